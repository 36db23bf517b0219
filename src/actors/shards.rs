//! Shards of session actors: N arbiter threads, an account's actor living on the shard its id
//! hashes to, and a registry (dashmap) from account id to the actor's address. Actors start on
//! first use and stop themselves when idle.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::prelude::*;

use super::SessionDeps;
use super::session::{Registry, SessionActor};
use crate::domain::ids::AccountId;
use crate::domain::{Error, Result};

pub struct Shards {
    arbiters: Mutex<Vec<Arbiter>>,
    handles: Vec<ArbiterHandle>,
    hasher: RandomState,
    registry: Arc<Registry>,
    deps: Arc<SessionDeps>,
    next_seq: AtomicU64,
    idle: Duration,
    timeout: Duration,
}

impl Shards {
    /// Starts `count` arbiter threads. Must be called inside an actix `System`.
    pub fn start(count: usize, deps: Arc<SessionDeps>, idle: Duration, timeout: Duration) -> Self {
        let arbiters: Vec<Arbiter> = (0..count.max(1)).map(|_| Arbiter::new()).collect();
        Shards {
            handles: arbiters.iter().map(Arbiter::handle).collect(),
            arbiters: Mutex::new(arbiters),
            hasher: RandomState::new(),
            registry: Arc::new(Registry::default()),
            deps,
            next_seq: AtomicU64::new(1),
            idle,
            timeout,
        }
    }

    /// Number of live actors.
    pub fn live(&self) -> usize {
        self.registry.len()
    }

    /// The account's actor, started on its shard if it is not running.
    fn actor(&self, account: AccountId) -> Addr<SessionActor> {
        if let Some(entry) = self.registry.get(&account)
            && entry.1.connected()
        {
            return entry.1.clone();
        }
        let mut entry = self
            .registry
            .entry(account)
            .or_insert_with(|| self.spawn(account));
        if !entry.1.connected() {
            *entry = self.spawn(account);
        }
        entry.1.clone()
    }

    fn spawn(&self, account: AccountId) -> (u64, Addr<SessionActor>) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let shard = (self.hasher.hash_one(account) % self.handles.len() as u64) as usize;
        let (deps, registry, idle) = (self.deps.clone(), self.registry.clone(), self.idle);
        let addr = SessionActor::start_in_arbiter(&self.handles[shard], move |_| {
            SessionActor::new(account, seq, deps, registry, idle)
        });
        (seq, addr)
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
                Ok(answer) => return answer,
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
