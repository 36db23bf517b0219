//! The password-hash pool: a fixed set of threads behind a bounded queue. Argon2 runs here and
//! nowhere else, so a storm of password logins saturates these threads and no others; when the
//! queue is full the caller is told to come back later (503 with `Retry-After`) at once.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError, bounded};
use tokio::sync::oneshot;

use crate::domain::{Error, Result};
use crate::telemetry::Metrics;

type Job = Box<dyn FnOnce() + Send>;

pub struct HashPool {
    jobs: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    max_wait: Duration,
    metrics: Arc<Metrics>,
}

impl HashPool {
    /// Starts `threads` workers sharing a queue of `queue` jobs.
    pub fn start(
        threads: usize,
        queue: usize,
        max_wait: Duration,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = bounded::<Job>(queue);
        let threads = (0..threads.max(1))
            .map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("lares-hash-{i}"))
                    .spawn(move || rx.iter().for_each(|job| job()))
            })
            .collect::<std::io::Result<_>>()?;
        Ok(HashPool {
            jobs: Some(tx),
            threads,
            max_wait,
            metrics,
        })
    }

    /// Runs `work` on the pool. Fails with `UNAVAILABLE` when the queue is full, and when the
    /// job waited longer than the configured maximum (it is then skipped, not run).
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| Error::unavailable(1, "hash pool stopped"))?;
        let (tx, rx) = oneshot::channel();
        let queued = Instant::now();
        let max_wait = self.max_wait;
        let job: Job = Box::new(move || {
            if queued.elapsed() <= max_wait && !tx.is_closed() {
                let _ = tx.send(work());
            }
        });
        match jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.metrics.hash_rejected.inc();
                return Err(Error::unavailable(1, "password hash queue is full"));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(Error::unavailable(1, "hash pool stopped"));
            }
        }
        self.metrics.hash_queue.set(jobs.len() as i64);
        let waited = tokio::time::timeout(max_wait * 2, rx).await;
        self.metrics.hash_queue.set(jobs.len() as i64);
        match waited {
            Ok(Ok(value)) => Ok(value),
            _ => Err(Error::unavailable(1, "password hash waited too long")),
        }
    }

    /// Stops taking jobs and waits for the threads to finish the queued ones.
    pub fn stop(&mut self) {
        self.jobs = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for HashPool {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Reason;
    use std::sync::mpsc;

    #[tokio::test]
    async fn runs_work_off_the_calling_thread() {
        let pool = HashPool::start(2, 4, Duration::from_secs(5), Arc::new(Metrics::new())).unwrap();
        let caller = std::thread::current().id();
        let worker = pool.run(|| std::thread::current().id()).await.unwrap();
        assert_ne!(caller, worker);
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_unavailable_at_once() {
        let pool = Arc::new(
            HashPool::start(1, 1, Duration::from_secs(5), Arc::new(Metrics::new())).unwrap(),
        );
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| 1).await })
        };
        while pool.jobs.as_ref().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let err = pool.run(|| 2).await.unwrap_err();
        assert_eq!(
            (err.reason, err.retry_after),
            (Reason::Unavailable, Some(1))
        );
        release_tx.send(()).unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap().unwrap(), 1);
    }
}
