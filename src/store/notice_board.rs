//! The notices clients are served from: every notice that has not ended, held in memory in
//! display order and replaced whole by each reload, so a storm of client lists never reaches
//! the store. A node reloads after each change it makes and periodically (`notices.reload_ms`),
//! which is how changes made on other nodes arrive.
//!
//! The board holds at most [`HELD_MAX`] notices: the first in display order (highest `sort`,
//! then latest start) among those not ended when it loaded. Beyond that a warning is logged and
//! the lowest-ranked are not shown until others end.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;

use super::{Store, StoreResult};
use crate::domain::clock::Clock;
use crate::domain::notice::{Notice, rank};

/// Most notices held.
pub const HELD_MAX: u32 = 1000;

pub struct NoticeBoard {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    held: RwLock<Arc<Vec<Notice>>>,
    /// One reload at a time, so that a slow one never lands after a newer one.
    loading: Mutex<()>,
}

impl NoticeBoard {
    /// An empty board; [`NoticeBoard::reload`] fills it.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        NoticeBoard {
            store,
            clock,
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

    /// Refreshes every `every` on the current runtime until stopped.
    pub fn start(self: Arc<Self>, every: Duration) -> Refresher {
        let (stop, mut stopped) = oneshot::channel();
        let done = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => self.refresh().await,
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
