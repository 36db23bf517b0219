//! Shards of session actors: N arbiter threads, an account's actor living on the shard its id
//! hashes to, and a registry (dashmap) from account id to the actor's address. Actors start on
//! first use; one sweep per shard set drops the entries of idle actors, which then stop.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::prelude::*;

use super::SessionDeps;
use super::session::{Entry, Registry, SessionActor};
use crate::domain::ids::AccountId;
use crate::domain::{Error, Result};

pub struct Shards {
    arbiters: Mutex<Vec<Arbiter>>,
    handles: Vec<ArbiterHandle>,
    hasher: RandomState,
    registry: Arc<Registry>,
    deps: Arc<SessionDeps>,
    next_seq: AtomicU64,
    timeout: Duration,
}

impl Shards {
    /// Starts `count` arbiter threads. Must be called inside an actix `System`.
    /// An actor neither asked nor answering for `idle` (by the injected clock) is dropped.
    pub fn start(count: usize, deps: Arc<SessionDeps>, idle: Duration, timeout: Duration) -> Self {
        let arbiters: Vec<Arbiter> = (0..count.max(1)).map(|_| Arbiter::new()).collect();
        let registry = Arc::new(Registry::default());
        let sweep = sweep_idle(registry.clone(), deps.clone(), idle);
        arbiters[0].spawn(sweep);
        Shards {
            handles: arbiters.iter().map(Arbiter::handle).collect(),
            arbiters: Mutex::new(arbiters),
            hasher: RandomState::new(),
            registry,
            deps,
            next_seq: AtomicU64::new(1),
            timeout,
        }
    }

    /// Number of live actors.
    pub fn live(&self) -> usize {
        self.registry.len()
    }

    /// The account's actor, started on its shard if it is not running.
    fn actor(&self, account: AccountId) -> Addr<SessionActor> {
        let now = self.deps.clock.now_ms();
        if let Some(entry) = self.registry.get(&account)
            && entry.addr.connected()
        {
            entry.touch(now);
            return entry.addr.clone();
        }
        let mut entry = self
            .registry
            .entry(account)
            .or_insert_with(|| self.spawn(account, now));
        if !entry.addr.connected() {
            *entry = self.spawn(account, now);
        }
        entry.touch(now);
        entry.addr.clone()
    }

    fn spawn(&self, account: AccountId, now_ms: i64) -> Entry {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let shard = (self.hasher.hash_one(account) % self.handles.len() as u64) as usize;
        let (deps, registry) = (self.deps.clone(), self.registry.clone());
        let addr = SessionActor::start_in_arbiter(&self.handles[shard], move |_| {
            SessionActor::new(account, seq, deps, registry)
        });
        Entry {
            seq,
            addr,
            last_active_ms: AtomicI64::new(now_ms),
        }
    }

    /// Sends `msg` to the account's actor and waits for the answer, at most the configured
    /// timeout. An actor that stopped between lookup and delivery is replaced once.
    pub async fn ask<M, T>(&self, account: AccountId, msg: M) -> Result<T>
    where
        M: Message<Result = Result<T>> + Clone + Send + 'static,
        T: Send + 'static,
        SessionActor: Handler<M>,
        <SessionActor as Actor>::Context: ToEnvelope<SessionActor, M>,
    {
        for _ in 0..2 {
            match self
                .actor(account)
                .send(msg.clone())
                .timeout(self.timeout)
                .await
            {
                Ok(answer) => {
                    if let Some(entry) = self.registry.get(&account) {
                        entry.touch(self.deps.clock.now_ms());
                    }
                    return answer;
                }
                Err(MailboxError::Closed) => continue,
                Err(MailboxError::Timeout) => {
                    return Err(Error::unavailable(
                        1,
                        "session actor did not answer in time",
                    ));
                }
            }
        }
        Err(Error::unavailable(1, "session actor kept stopping"))
    }

    /// Stops every shard and waits for its thread; later requests get `UNAVAILABLE`.
    pub fn stop(&self) {
        self.registry.clear();
        let arbiters = match self.arbiters.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for arbiter in arbiters {
            arbiter.stop();
            let _ = arbiter.join();
        }
    }
}

/// Drops the registry entries of actors idle for `idle`, checking twice per period (between
/// 100 ms and 30 s). An actor whose entry is gone stops when its last message is answered.
async fn sweep_idle(registry: Arc<Registry>, deps: Arc<SessionDeps>, idle: Duration) {
    let tick = (idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(30));
    let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = deps.clock.now_ms();
        registry.retain(|_, entry| now.saturating_sub(entry.last_active()) < idle_ms);
    }
}
