//! The load driver: a fixed number of workers run one operation in a loop (for a duration, or
//! over a list of items), and every completion is timed into a histogram.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::Mutex;

/// What a measurement saw.
#[derive(Debug, Clone)]
pub struct Measured {
    pub ok: u64,
    pub failed: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }
}

fn histogram() -> Histogram<u64> {
    // Microseconds, up to a minute, three significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn summarize(hist: &Histogram<u64>, ok: u64, failed: u64, seconds: f64) -> Measured {
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Measured {
        ok,
        failed,
        seconds,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
    }
}

/// Runs `op(worker, n)` on `workers` workers for `duration`; `op` answers how many requests it
/// completed successfully (0 = a failure), each of which is timed as one sample.
pub async fn for_duration<F, Fut>(workers: usize, duration: Duration, op: F) -> Measured
where
    F: Fn(usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = u64> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let tasks = (0..workers).map(|worker| {
        let op = op.clone();
        tokio::spawn(async move {
            let (mut hist, mut ok, mut failed) = (histogram(), 0u64, 0u64);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let begun = Instant::now();
                let done = op(worker, n).await;
                n += 1;
                let micros = begun.elapsed().as_micros().max(1) as u64;
                if done == 0 {
                    failed += 1;
                    continue;
                }
                ok += done;
                let _ = hist.record_n(micros / done, done);
            }
            (hist, ok, failed)
        })
    });
    collect(tasks, started).await
}

/// Runs `op` once for every item, on `workers` workers.
pub async fn over_items<T, F, Fut>(workers: usize, items: Vec<T>, op: F) -> Measured
where
    T: Send + 'static,
    F: Fn(usize, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let queue = Arc::new(Mutex::new(items.into_iter()));
    let started = Instant::now();
    let tasks = (0..workers).map(|worker| {
        let (op, queue) = (op.clone(), queue.clone());
        tokio::spawn(async move {
            let (mut hist, mut ok, mut failed) = (histogram(), 0u64, 0u64);
            loop {
                let Some(item) = queue.lock().await.next() else {
                    break;
                };
                let begun = Instant::now();
                if op(worker, item).await {
                    ok += 1;
                    let _ = hist.record(begun.elapsed().as_micros().max(1) as u64);
                } else {
                    failed += 1;
                }
            }
            (hist, ok, failed)
        })
    });
    collect(tasks, started).await
}

async fn collect<I>(tasks: I, started: Instant) -> Measured
where
    I: Iterator<Item = tokio::task::JoinHandle<(Histogram<u64>, u64, u64)>>,
{
    let (mut all, mut ok, mut failed) = (histogram(), 0, 0);
    for task in tasks.collect::<Vec<_>>() {
        if let Ok((hist, o, f)) = task.await {
            let _ = all.add(hist);
            ok += o;
            failed += f;
        }
    }
    summarize(&all, ok, failed, started.elapsed().as_secs_f64())
}

/// A counter shared by workers, for handing out distinct numbers.
pub fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

pub fn next(counter: &AtomicUsize) -> usize {
    counter.fetch_add(1, Ordering::Relaxed)
}
