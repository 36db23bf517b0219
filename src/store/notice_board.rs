//! The notices clients are served from: every notice that has not ended, held in memory in
//! display order and replaced whole by each reload, so a storm of client lists never reaches
//! the store. A node reloads after each change it makes, and periodically
//! (`notices.reload_ms`). With a shared cache (Redis), a change also raises a version there,
//! which every node reads each [`PROBE`] and reloads on, so changes made on other nodes arrive
//! within about a second; the periodic reload covers the times Redis cannot be reached.
//!
//! The board holds at most [`HELD_MAX`] notices: the first in display order (highest `sort`,
//! then latest start) among those not ended when it loaded. Beyond that a warning is logged and
//! the lowest-ranked are not shown until others end.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;

use super::cache::Cache;
use super::{Store, StoreResult};
use crate::domain::clock::Clock;
use crate::domain::notice::{Notice, rank};

/// Most notices held.
pub const HELD_MAX: u32 = 1000;

/// How often the notices' version in a shared cache is read.
pub const PROBE: Duration = Duration::from_secs(1);

pub struct NoticeBoard {
    store: Arc<dyn Store>,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    /// The version in the shared cache when it was last read.
    seen: AtomicI64,
    held: RwLock<Arc<Vec<Notice>>>,
    /// One reload at a time, so that a slow one never lands after a newer one.
    loading: Mutex<()>,
}

impl NoticeBoard {
    /// An empty board; [`NoticeBoard::reload`] fills it.
    pub fn new(store: Arc<dyn Store>, cache: Arc<dyn Cache>, clock: Arc<dyn Clock>) -> Self {
        NoticeBoard {
            store,
            cache,
            clock,
            seen: AtomicI64::new(0),
            held: RwLock::new(Arc::new(Vec::new())),
            loading: Mutex::new(()),
        }
    }

    /// The notices held, in display order ([`rank`]); some may have ended since the last load.
    pub fn held(&self) -> Arc<Vec<Notice>> {
        match self.held.read() {
            Ok(held) => held.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the notices that have not ended from the store and holds them. On failure the
    /// board keeps what it held.
    pub async fn reload(&self) -> StoreResult<()> {
        let _one = self.loading.lock().await;
        let now = self.clock.now_ms();
        let mut notices = self.store.upcoming_notices(now, HELD_MAX).await?;
        if notices.len() >= HELD_MAX as usize {
            tracing::warn!(
                held = notices.len(),
                "more notices have not ended than the board holds; the lowest-ranked are not shown"
            );
        }
        notices.sort_by(rank);
        let notices = Arc::new(notices);
        match self.held.write() {
            Ok(mut held) => *held = notices,
            Err(poisoned) => *poisoned.into_inner() = notices,
        }
        Ok(())
    }

    /// [`NoticeBoard::reload`], logging a failure instead of answering it.
    pub async fn refresh(&self) {
        if let Err(err) = self.reload().await {
            tracing::warn!(error = %err, "notices not reloaded; serving the last good copy");
        }
    }

    /// After a change this node committed: tells the other nodes, then reloads.
    pub async fn changed(&self) {
        if let Err(err) = self.cache.bump_notices().await {
            tracing::warn!(
                error = %err,
                "notice change not announced; other nodes show it at their next periodic reload"
            );
        }
        self.refresh().await;
    }

    /// Reloads when the version in the shared cache has moved since it was last read.
    async fn follow(&self) {
        match self.cache.notices_version().await {
            Ok(version) if version != self.seen.load(Ordering::Relaxed) => {
                // Marked as seen only once loaded, so that a failed reload is tried again.
                match self.reload().await {
                    Ok(()) => self.seen.store(version, Ordering::Relaxed),
                    Err(err) => tracing::warn!(
                        error = %err, "notices not reloaded; serving the last good copy"
                    ),
                }
            }
            Ok(_) => {}
            Err(err) => tracing::debug!(error = %err, "notices version not read"),
        }
    }

    /// Refreshes every `every`, and follows the shared cache's version every [`PROBE`], on the
    /// current runtime until stopped.
    pub fn start(self: Arc<Self>, every: Duration) -> Refresher {
        let (stop, mut stopped) = oneshot::channel();
        let shared = self.cache.shared();
        let done = tokio::spawn(async move {
            if shared && let Ok(version) = self.cache.notices_version().await {
                self.seen.store(version, Ordering::Relaxed);
            }
            let mut reload = tokio::time::interval(every);
            reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            reload.tick().await;
            let mut probe = tokio::time::interval(PROBE);
            probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            probe.tick().await;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = reload.tick() => self.refresh().await,
                    _ = probe.tick(), if shared => self.follow().await,
                }
            }
        });
        Refresher { stop, done }
    }
}

/// The periodic reload task, to stop it at shutdown.
pub struct Refresher {
    stop: oneshot::Sender<()>,
    done: JoinHandle<()>,
}

impl Refresher {
    /// Stops reloading; a reload under way finishes first.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.done.await;
    }
}
