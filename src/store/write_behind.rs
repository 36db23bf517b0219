//! The write-behind queue. Sign-in times and addresses, sign-in events and the durable copy of
//! session families are queued (bounded; an overflow is shed and counted), coalesced (one copy
//! per family, the newest; one sign-in time per account, the latest) and written to the store in
//! batches every interval or as soon as a batch is full. A failed flush keeps its records and
//! retries. On shutdown the queue is drained completely, within a deadline.
//!
//! What a crash loses is what was queued since the last flush: one interval, plus the time a
//! flush takes. A batch the store refuses for a reason other than being unreachable (a bug, a
//! constraint) is retried a few times, then discarded and counted, so that it cannot hold back
//! the records behind it. A graceful shutdown loses nothing unless the store stays unreachable past the
//! drain deadline, which is logged with the number of records lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{Flush, LastLogin, LoginEvent, Store, StoreError};

/// Failed attempts after which a batch that fails for a reason other than an outage is
/// discarded (and counted) instead of retried.
const POISON_ATTEMPTS: u32 = 5;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, Session};
use crate::telemetry::Metrics;

/// One record to write behind.
#[derive(Debug, Clone)]
pub enum Record {
    Session(Session),
    /// A family's revocation; applied after any copy of the family in the same flush.
    Revoked(SessionId, Revocation),
    Login(LastLogin),
    Event(LoginEvent),
}

/// Flush settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub interval: Duration,
    pub batch: usize,
    pub queue: usize,
    /// How long the final drain may take.
    pub drain: Duration,
}

/// What the flushing task receives.
enum Message {
    Record(Record),
    /// Answered once everything queued before it is written (or a flush failed).
    Barrier(oneshot::Sender<bool>),
}

/// The producer side: cheap to clone, never blocks.
#[derive(Clone)]
pub struct WriteBehind {
    tx: mpsc::Sender<Message>,
    metrics: Arc<Metrics>,
}

/// The consumer task's handle, to drain it at shutdown.
pub struct Drain {
    stop: oneshot::Sender<Duration>,
    done: tokio::task::JoinHandle<()>,
}

impl WriteBehind {
    /// Starts the flushing task on the current tokio runtime.
    pub fn start(
        store: Arc<dyn Store>,
        settings: Settings,
        metrics: Arc<Metrics>,
    ) -> (WriteBehind, Drain) {
        let (tx, rx) = mpsc::channel(settings.queue);
        let (stop, stopped) = oneshot::channel();
        let task = Flusher {
            store,
            settings,
            metrics: metrics.clone(),
            pending: Pending::default(),
            rx,
            failures: 0,
        };
        let done = tokio::spawn(task.run(stopped));
        (WriteBehind { tx, metrics }, Drain { stop, done })
    }

    /// Queues a record; when the queue is full the record is shed and counted.
    pub fn push(&self, record: Record) {
        if self.tx.try_send(Message::Record(record)).is_err() {
            self.metrics.write_behind_shed.inc();
        }
    }

    /// Writes everything queued so far; answers whether it was all written.
    pub async fn flush(&self) -> bool {
        let (done, written) = oneshot::channel();
        if self.tx.send(Message::Barrier(done)).await.is_err() {
            return false;
        }
        written.await.unwrap_or(false)
    }
}

impl Drain {
    /// Stops taking records and writes everything queued, giving up after `deadline` (the
    /// task drains by itself, with the configured deadline, once every producer is dropped).
    pub async fn drain(self, deadline: Duration) {
        let _ = self.stop.send(deadline);
        let _ = self.done.await;
    }
}

/// Coalesced records waiting for a flush.
#[derive(Default)]
struct Pending {
    sessions: HashMap<SessionId, Session>,
    revocations: HashMap<SessionId, Revocation>,
    logins: HashMap<AccountId, LastLogin>,
    events: Vec<LoginEvent>,
}

impl Pending {
    fn len(&self) -> usize {
        self.sessions.len() + self.revocations.len() + self.logins.len() + self.events.len()
    }

    fn add(&mut self, record: Record) {
        match record {
            Record::Session(s) => {
                let slot = self
                    .sessions
                    .entry(s.id.clone())
                    .or_insert_with(|| s.clone());
                let revoked = slot.revoked.or(s.revoked);
                if s.generation > slot.generation {
                    *slot = s;
                }
                slot.revoked = revoked;
            }
            Record::Revoked(id, revocation) => {
                if let Some(copy) = self.sessions.get_mut(&id) {
                    copy.revoked.get_or_insert(revocation);
                }
                self.revocations.entry(id).or_insert(revocation);
            }
            Record::Login(l) => {
                let slot = self.logins.entry(l.account).or_insert_with(|| l.clone());
                if l.at_ms >= slot.at_ms {
                    *slot = l;
                }
            }
            Record::Event(e) => self.events.push(e),
        }
    }

    /// Takes up to `limit` records for one flush.
    fn take(&mut self, limit: usize) -> Flush {
        let mut flush = Flush::default();
        let keys: Vec<SessionId> = self.sessions.keys().take(limit).cloned().collect();
        flush.sessions = keys
            .iter()
            .filter_map(|k| self.sessions.remove(k))
            .collect();
        let room = limit - flush.len();
        let keys: Vec<SessionId> = self.revocations.keys().take(room).cloned().collect();
        flush.revocations = keys
            .into_iter()
            .filter_map(|k| self.revocations.remove_entry(&k))
            .collect();
        let room = limit - flush.len();
        let keys: Vec<AccountId> = self.logins.keys().take(room).copied().collect();
        flush.logins = keys.iter().filter_map(|k| self.logins.remove(k)).collect();
        let room = (limit - flush.len()).min(self.events.len());
        flush.events = self.events.drain(..room).collect();
        // Every node writes rows in the same order, so that two nodes flushing at once wait for
        // each other instead of deadlocking.
        flush
            .sessions
            .sort_unstable_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        flush
            .revocations
            .sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        flush.logins.sort_unstable_by_key(|l| l.account.0);
        flush
    }

    /// Puts back a batch whose flush failed.
    fn restore(&mut self, flush: Flush) {
        flush
            .sessions
            .into_iter()
            .for_each(|s| self.add(Record::Session(s)));
        flush
            .revocations
            .into_iter()
            .for_each(|(id, r)| self.add(Record::Revoked(id, r)));
        flush
            .logins
            .into_iter()
            .for_each(|l| self.add(Record::Login(l)));
        self.events.extend(flush.events);
    }
}

struct Flusher {
    store: Arc<dyn Store>,
    settings: Settings,
    metrics: Arc<Metrics>,
    pending: Pending,
    rx: mpsc::Receiver<Message>,
    /// Consecutive failed flushes.
    failures: u32,
}

impl Flusher {
    async fn run(mut self, mut stop: oneshot::Receiver<Duration>) {
        let mut tick = tokio::time::interval(self.settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let deadline = loop {
            let room = self.pending.len() < self.settings.queue;
            tokio::select! {
                deadline = &mut stop => break deadline.unwrap_or(self.settings.drain),
                message = self.rx.recv(), if room => match message {
                    Some(Message::Record(record)) => {
                        self.pending.add(record);
                        if self.pending.len() >= self.settings.batch {
                            self.flush_once().await;
                        }
                    }
                    Some(Message::Barrier(done)) => {
                        let _ = done.send(self.flush_all().await);
                    }
                    // Every producer is gone: the service is shutting down.
                    None => break self.settings.drain,
                },
                _ = tick.tick() => {
                    if self.pending.len() > 0 {
                        self.flush_once().await;
                    }
                }
            }
            self.report_depth();
        };
        self.drain(deadline).await;
    }

    /// Writes one batch; on failure the batch goes back and is retried at the next tick.
    async fn flush_once(&mut self) -> bool {
        let batch = self.pending.take(self.settings.batch);
        if batch.is_empty() {
            return true;
        }
        let started = Instant::now();
        let size = batch.len();
        match self.store.flush(&batch).await {
            Ok(()) => {
                self.failures = 0;
                self.metrics.write_behind_batch.observe(size as f64);
                self.metrics
                    .write_behind_flush
                    .observe(started.elapsed().as_secs_f64());
                true
            }
            Err(StoreError::Internal(detail)) if self.failures >= POISON_ATTEMPTS => {
                // Not a passing outage: the batch itself cannot be written, and retrying it for
                // ever would hold back everything queued behind it.
                self.failures = 0;
                self.metrics.write_behind_discarded.inc_by(size as u64);
                tracing::error!(
                    detail,
                    records = size,
                    "write-behind batch discarded after repeated errors"
                );
                true
            }
            Err(err) => {
                self.failures += 1;
                self.metrics.write_behind_errors.inc();
                tracing::warn!(error = %err, records = size, "write-behind flush failed; will retry");
                self.pending.restore(batch);
                false
            }
        }
    }

    /// Flushes until nothing is pending or a flush fails.
    async fn flush_all(&mut self) -> bool {
        while self.pending.len() > 0 {
            if !self.flush_once().await {
                return false;
            }
        }
        true
    }

    fn report_depth(&self) {
        self.metrics
            .write_behind_depth
            .set((self.pending.len() + self.rx.len()) as i64);
    }

    /// Takes everything still queued and flushes until empty or past the deadline.
    async fn drain(mut self, deadline: Duration) {
        self.rx.close();
        let mut barriers = Vec::new();
        while let Ok(message) = self.rx.try_recv() {
            match message {
                Message::Record(record) => self.pending.add(record),
                Message::Barrier(done) => barriers.push(done),
            }
        }
        let until = Instant::now() + deadline;
        while self.pending.len() > 0 && Instant::now() < until {
            if !self.flush_once().await {
                tokio::time::sleep(self.settings.interval.min(Duration::from_millis(500))).await;
            }
        }
        self.report_depth();
        let lost = self.pending.len();
        for done in barriers {
            let _ = done.send(lost == 0);
        }
        if lost > 0 {
            tracing::error!(
                records = lost,
                "write-behind queue not drained before the deadline"
            );
        } else {
            tracing::info!("write-behind queue drained");
        }
    }
}

#[cfg(test)]
#[path = "write_behind_tests.rs"]
mod tests;
