//! The revocation hub: every revoked session family goes into a log (a Redis stream shared by
//! all nodes, or a ring in process) and out to this node's subscribers. With Redis, a poller on
//! each node reads the stream every 100 ms and fans out what any node appended, so subscribers
//! on every node see every revocation within a fraction of a second, in one order. A subscriber
//! may resume behind a sequence it saw, as long as the log still holds it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use super::cache::{Cache, sequence_key};
use crate::domain::session::Revoked;
use crate::telemetry::Metrics;

/// How often each node reads the shared log.
const POLL: Duration = Duration::from_millis(100);
/// Events read per poll at most.
const PAGE: usize = 512;
/// Revocations waiting for the log while it is unreachable, at most.
const PENDING_MAX: usize = 10_000;

/// One revocation with its place in the log (empty when it could not be logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub sequence: String,
    pub event: Revoked,
}

/// Why a subscription cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    #[error("sequence {0} is not a sequence of the revocation log")]
    Malformed(String),
    #[error("the log no longer holds events after {0}; resubscribe without a sequence")]
    TooOld(String),
    #[error("the revocation log is unavailable")]
    Unavailable,
}

pub struct Hub {
    cache: Arc<dyn Cache>,
    fanout: broadcast::Sender<Arc<Notice>>,
    /// Events not yet in the log because it was unreachable; retried by the poller.
    pending: Mutex<VecDeque<Revoked>>,
    metrics: Arc<Metrics>,
}

impl Hub {
    /// Starts the hub (and, for a shared log, its poller) on the current runtime.
    pub fn start(cache: Arc<dyn Cache>, fanout_capacity: usize, metrics: Arc<Metrics>) -> Arc<Hub> {
        let (fanout, _) = broadcast::channel(fanout_capacity.max(16));
        let hub = Arc::new(Hub {
            cache,
            fanout,
            pending: Mutex::default(),
            metrics,
        });
        if hub.cache.shared() {
            tokio::spawn(poll(Arc::downgrade(&hub)));
        }
        hub
    }

    /// Logs revocations and tells subscribers. With a shared log, subscribers hear of them from
    /// the poller (on every node); when the log is unreachable, this node's subscribers are told
    /// at once and the log gets them later.
    pub async fn publish(&self, events: Vec<Revoked>) {
        if events.is_empty() {
            return;
        }
        self.metrics.revocations.inc_by(events.len() as u64);
        match self.cache.append_revocations(&events).await {
            Ok(sequences) if !self.cache.shared() => {
                for (sequence, event) in sequences.into_iter().zip(events) {
                    let _ = self.fanout.send(Arc::new(Notice { sequence, event }));
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, events = events.len(), "revocation log unreachable; telling local subscribers only");
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                for event in events {
                    let _ = self.fanout.send(Arc::new(Notice {
                        sequence: String::new(),
                        event: event.clone(),
                    }));
                    if pending.len() < PENDING_MAX {
                        pending.push_back(event);
                    }
                }
            }
        }
    }

    /// Subscribes: first the logged events after `after` (if given), then everything new.
    pub async fn subscribe(&self, after: &str) -> Result<Subscription, ResumeError> {
        let live = self.fanout.subscribe();
        if after.is_empty() {
            return Ok(Subscription {
                backlog: VecDeque::new(),
                live,
                last: None,
            });
        }
        let wanted = sequence_key(after).ok_or_else(|| ResumeError::Malformed(after.to_owned()))?;
        // A sequence older than the oldest kept event (or any, when nothing is kept) may have
        // had successors trimmed away: refuse rather than resume with a silent gap.
        let bounds = self
            .cache
            .revocation_bounds()
            .await
            .map_err(|_| ResumeError::Unavailable)?;
        let oldest = bounds.and_then(|(first, _)| sequence_key(&first));
        if oldest.is_none_or(|oldest| wanted < oldest) {
            return Err(ResumeError::TooOld(after.to_owned()));
        }
        let mut backlog = VecDeque::new();
        let mut cursor = after.to_owned();
        loop {
            let page = self
                .cache
                .revocations_after(&cursor, PAGE)
                .await
                .map_err(|_| ResumeError::Unavailable)?;
            let full = page.len() == PAGE;
            for (sequence, event) in page {
                cursor = sequence.clone();
                backlog.push_back(Arc::new(Notice { sequence, event }));
            }
            if !full {
                break;
            }
        }
        let last = Some(sequence_key(&cursor).unwrap_or(wanted));
        Ok(Subscription {
            backlog,
            live,
            last,
        })
    }

    /// Reads what the shared log gained since `after`; tells subscribers.
    async fn poll_once(&self, after: &mut String) {
        self.retry_pending().await;
        match self.cache.revocations_after(after, PAGE).await {
            Ok(page) => {
                for (sequence, event) in page {
                    *after = sequence.clone();
                    let _ = self.fanout.send(Arc::new(Notice { sequence, event }));
                }
            }
            Err(err) => tracing::debug!(error = %err, "revocation log poll failed"),
        }
    }

    async fn retry_pending(&self) {
        let events: Vec<Revoked> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.drain(..).collect()
        };
        if events.is_empty() {
            return;
        }
        if self.cache.append_revocations(&events).await.is_err() {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            events.into_iter().rev().for_each(|e| pending.push_front(e));
            pending.truncate(PENDING_MAX);
        }
    }
}

/// Polls the shared log for as long as the hub exists.
async fn poll(hub: std::sync::Weak<Hub>) {
    let mut after = match hub.upgrade() {
        Some(hub) => hub
            .cache
            .revocation_bounds()
            .await
            .ok()
            .flatten()
            .map(|(_, last)| last),
        None => return,
    };
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(hub) = hub.upgrade() else { return };
        let cursor = after.get_or_insert_with(|| "0-0".to_owned());
        hub.poll_once(cursor).await;
    }
}

/// A subscriber's view: the backlog it asked for, then live events in log order.
pub struct Subscription {
    backlog: VecDeque<Arc<Notice>>,
    live: broadcast::Receiver<Arc<Notice>>,
    /// The last sequence handed out; live events at or before it are skipped.
    last: Option<(u64, u64)>,
}

/// What a subscriber gets next.
pub enum Next {
    Notice(Arc<Notice>),
    /// The subscriber fell behind the fan-out buffer by this many events.
    Lagged(u64),
    Closed,
}

impl Subscription {
    pub async fn next(&mut self) -> Next {
        if let Some(notice) = self.backlog.pop_front() {
            return Next::Notice(notice);
        }
        loop {
            match self.live.recv().await {
                Ok(notice) => {
                    let key = sequence_key(&notice.sequence);
                    if let (Some(key), Some(last)) = (key, self.last) {
                        if key <= last {
                            continue;
                        }
                        self.last = Some(key);
                    }
                    return Next::Notice(notice);
                }
                Err(broadcast::error::RecvError::Lagged(n)) => return Next::Lagged(n),
                Err(broadcast::error::RecvError::Closed) => return Next::Closed,
            }
        }
    }
}
