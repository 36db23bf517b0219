//! Group commit for creating accounts by identity (device ids and platform sign-ins). Creations
//! are queued (bounded; a full queue answers 503) and committed together: while one batch is
//! being written the next one gathers, so a storm turns into few multi-row transactions instead
//! of one per account. Every caller is answered only after the transaction holding its account
//! has committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{IdentityAccount, NewIdentity, Store};
use crate::domain::{Error, Result};
use crate::telemetry::Metrics;

/// Transactions in flight at once; more would only contend for the same index pages.
const IN_FLIGHT: usize = 2;
/// Longest a caller waits for its commit before it is told to retry.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

struct Job {
    identity: NewIdentity,
    reply: oneshot::Sender<Result<IdentityAccount>>,
}

/// Queues creations for the committing task. Cheap to clone.
#[derive(Clone)]
pub struct Creator {
    tx: mpsc::Sender<Job>,
}

impl Creator {
    /// Starts the committing task on the current tokio runtime.
    pub fn start(
        store: Arc<dyn Store>,
        batch: usize,
        queue: usize,
        metrics: Arc<Metrics>,
    ) -> Creator {
        let (tx, rx) = mpsc::channel(queue);
        tokio::spawn(collect(store, rx, batch, metrics));
        Creator { tx }
    }

    /// Creates the identity's account, or finds it when it exists; answers after the commit.
    pub async fn create(&self, identity: NewIdentity) -> Result<IdentityAccount> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(Job { identity, reply })
            .map_err(|_| Error::unavailable(1, "account creation queue is full"))?;
        match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            _ => Err(Error::unavailable(
                1,
                "account creation did not commit in time",
            )),
        }
    }
}

/// Gathers whatever is queued (up to `batch`) whenever a transaction slot is free.
async fn collect(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Job>,
    batch: usize,
    metrics: Arc<Metrics>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut jobs = vec![first];
        while jobs.len() < batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        metrics.create_batch.observe(jobs.len() as f64);
        let store = store.clone();
        tokio::spawn(async move {
            commit(store.as_ref(), jobs).await;
            drop(slot);
        });
    }
}

/// Writes one batch and answers its callers. Two callers with the same identity (provider and
/// subject) share one account; only the first is told it was created.
async fn commit(store: &dyn Store, jobs: Vec<Job>) {
    let mut unique: Vec<NewIdentity> = Vec::with_capacity(jobs.len());
    let mut index: HashMap<(String, String), usize> = HashMap::with_capacity(jobs.len());
    let mut waiters: Vec<(usize, oneshot::Sender<Result<IdentityAccount>>)> =
        Vec::with_capacity(jobs.len());
    for job in jobs {
        let key = (job.identity.provider.clone(), job.identity.subject.clone());
        let slot = *index.entry(key).or_insert_with(|| {
            unique.push(job.identity);
            unique.len() - 1
        });
        waiters.push((slot, job.reply));
    }
    match store.create_identity_accounts(&unique).await {
        Ok(accounts) => {
            let mut answered = vec![false; accounts.len()];
            for (slot, reply) in waiters {
                let mut answer = accounts[slot].clone();
                answer.created &= !std::mem::replace(&mut answered[slot], true);
                let _ = reply.send(Ok(answer));
            }
        }
        Err(err) => {
            let err = Error::from(err);
            tracing::warn!(
                reason = err.reason.code(),
                detail = err.detail.as_deref().unwrap_or(""),
                accounts = unique.len(),
                "account batch did not commit"
            );
            for (_, reply) in waiters {
                let _ = reply.send(Err(err.clone()));
            }
        }
    }
}
