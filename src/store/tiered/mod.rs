//! The tiered view the actors and the service use: the cache first, the store behind it.
//!
//! Session families live in the cache and are copied to the store by the write-behind queue;
//! revocations are also written to the store at once. When the cache fails, a breaker opens and
//! every operation goes to the store (compare-and-set there too) until the pause is over; the
//! families changed meanwhile are then copied from the store into the cache where the cache is
//! older, so that it cannot answer with a stale copy, and the cache is used again. No restart is
//! needed either way.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use tokio::sync::Mutex as AsyncMutex;

mod gate;

use super::admin::SessionSummary;
use super::cache::{Cache, CacheError, CacheResult, Cas, Nonce};
use super::write_behind::{Record, WriteBehind};
use super::{Account, Store};
use crate::domain::Result;
use crate::domain::clock::{Clock, Millis};
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, RevokeReason, Session};
use crate::telemetry::Metrics;

/// Families changed in the store while the cache was away, remembered at most.
const DIRTY_MAX: usize = 100_000;
/// Most live families listed for an account.
pub const LIVE_MAX: usize = 100;
/// Longest wait for the write-behind queue when falling back to the store.
const CATCH_UP_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct Tiered {
    cache: Arc<dyn Cache>,
    store: Arc<dyn Store>,
    write_behind: WriteBehind,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    /// 0 while the cache is in use; otherwise when it may be tried again (unix ms).
    paused_until: AtomicI64,
    pause_ms: i64,
    recovering: AsyncMutex<()>,
    dirty: std::sync::Mutex<Dirty>,
    /// Outages so far, and the last one whose queued copies were flushed to the store.
    outages: AtomicU64,
    caught_up: AsyncMutex<u64>,
    /// How long other nodes may take to write their queued copies behind, milliseconds.
    settle_ms: u64,
}

#[derive(Default)]
struct Dirty {
    families: HashSet<(AccountId, SessionId)>,
    overflowed: bool,
}

/// A family as the freshest available copy shows it.
pub struct Fresh {
    pub session: Option<Session>,
    /// Whether the cache was asked too.
    pub complete: bool,
}

pub struct TieredParts {
    pub cache: Arc<dyn Cache>,
    pub store: Arc<dyn Store>,
    pub write_behind: WriteBehind,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub pause_ms: i64,
    /// Two write-behind intervals: by then every node has flushed what it had queued.
    pub settle_ms: u64,
}

impl Tiered {
    pub fn new(p: TieredParts) -> Self {
        Tiered {
            cache: p.cache,
            store: p.store,
            write_behind: p.write_behind,
            clock: p.clock,
            metrics: p.metrics,
            paused_until: AtomicI64::new(0),
            pause_ms: p.pause_ms,
            recovering: AsyncMutex::new(()),
            dirty: std::sync::Mutex::new(Dirty::default()),
            outages: AtomicU64::new(0),
            caught_up: AsyncMutex::new(0),
            settle_ms: p.settle_ms,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn write_behind(&self) -> &WriteBehind {
        &self.write_behind
    }

    /// True when the cache is in use (it may be tried, after repair, once its pause is over).
    async fn cache_usable(&self) -> bool {
        let paused = self.paused_until.load(Ordering::Acquire);
        if paused == 0 {
            return true;
        }
        if self.clock.now_ms() < paused {
            return false;
        }
        let Ok(_one) = self.recovering.try_lock() else {
            return false;
        };
        if self.paused_until.load(Ordering::Acquire) == 0 {
            return true;
        }
        match self.repair().await {
            Ok(()) => {
                self.paused_until.store(0, Ordering::Release);
                self.metrics.cache_degraded.set(0);
                tracing::info!("cache reachable again; using it");
                true
            }
            Err(err) => {
                self.cache_failed(&err);
                false
            }
        }
    }

    fn cache_failed(&self, err: &CacheError) {
        self.metrics.cache_errors.inc();
        let until = self.clock.now_ms() + self.pause_ms;
        if self.paused_until.swap(until, Ordering::AcqRel) == 0 {
            self.outages.fetch_add(1, Ordering::AcqRel);
            self.metrics.cache_degraded.set(1);
            tracing::warn!(error = %err, "cache unreachable; sessions fall back to the store");
        }
    }

    /// Brings the cache up to the store for every family the store changed while the cache was
    /// away: the stored copy replaces an older cached one; a newer cached one (written by a node
    /// that got the cache back first) stays.
    async fn repair(&self) -> std::result::Result<(), CacheError> {
        self.cache.ping().await?;
        let (families, overflowed) = {
            let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
            let taken = std::mem::take(&mut *dirty);
            (
                taken.families.into_iter().collect::<Vec<_>>(),
                taken.overflowed,
            )
        };
        let now = self.clock.now_ms();
        for (done, (account, id)) in families.iter().enumerate() {
            let copied = match self.store.session(id).await {
                Ok(Some(stored)) if stored.account == *account => {
                    self.cache.put_session(&stored, now).await.map(|_| ())
                }
                Ok(_) => Ok(()),
                Err(err) => Err(CacheError(format!(
                    "store unavailable for the repair: {err}"
                ))),
            };
            if let Err(err) = copied {
                let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
                dirty.families.extend(families[done..].iter().cloned());
                return Err(err);
            }
        }
        tracing::info!(families = families.len(), "cache repaired from the store");
        if overflowed {
            tracing::error!(
                tracked = DIRTY_MAX,
                "more families changed during the cache outage than were tracked; the rest may \
                 be stale in the cache until they change again or expire"
            );
        }
        Ok(())
    }

    /// Waits until the other nodes have written behind what they queued before the outage.
    pub async fn settle(&self) {
        tokio::time::sleep(std::time::Duration::from_millis(self.settle_ms)).await;
    }

    /// Before the store answers for the cache, writes this node's queued copies of families to
    /// it (once per outage), so that the store is not behind this node.
    async fn catch_up(&self) {
        let outage = self.outages.load(Ordering::Acquire);
        if outage == 0 {
            return;
        }
        let mut done = self.caught_up.lock().await;
        if *done >= outage {
            return;
        }
        let flushed = tokio::time::timeout(CATCH_UP_LIMIT, self.write_behind.flush()).await;
        if !matches!(flushed, Ok(true)) {
            tracing::warn!(
                "could not write queued session copies before falling back to the store"
            );
        }
        *done = outage;
    }

    fn mark_dirty(&self, account: AccountId, id: &SessionId) {
        let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        if dirty.families.len() < DIRTY_MAX {
            dirty.families.insert((account, id.clone()));
        } else {
            dirty.overflowed = true;
        }
    }

    /// A family as the cache has it, else as the store has it (and then cached).
    pub async fn session(&self, account: AccountId, id: &SessionId) -> Result<Option<Session>> {
        if self.cache_usable().await {
            match self.cache.session(account, id).await {
                Ok(Some(found)) => return Ok(Some(found)),
                Ok(None) => {}
                Err(err) => self.cache_failed(&err),
            }
        }
        let found = self.stored_session(account, id).await?;
        if let Some(found) = &found {
            self.cache_quietly(found).await;
        }
        Ok(found)
    }

    /// The freshest copy of a family: the cache's or the store's, whichever is of the higher
    /// generation, with a revocation from either. Used when a presented credential is not the
    /// current one of the copy at hand. `complete` is false when the cache could not be asked,
    /// so that a newer copy may exist that neither answer shows yet.
    pub async fn fresh_session(&self, account: AccountId, id: &SessionId) -> Result<Fresh> {
        let (cached, complete) = match self.cache_usable().await {
            true => match self.cache.session(account, id).await {
                Ok(cached) => (cached, true),
                Err(err) => {
                    self.cache_failed(&err);
                    (None, false)
                }
            },
            false => (None, false),
        };
        let stored = match self.stored_session(account, id).await {
            Ok(stored) => stored,
            Err(_) if cached.is_some() => None,
            Err(err) => return Err(err),
        };
        let session = match (cached, stored) {
            (Some(c), Some(s)) => {
                let revoked = c.revoked.or(s.revoked);
                let mut newer = if s.generation > c.generation { s } else { c };
                newer.revoked = revoked;
                Some(newer)
            }
            (c, s) => c.or(s),
        };
        Ok(Fresh { session, complete })
    }

    async fn stored_session(&self, account: AccountId, id: &SessionId) -> Result<Option<Session>> {
        self.catch_up().await;
        let found = self.store.session(id).await?;
        Ok(found.filter(|s| s.account == account))
    }

    async fn cache_quietly(&self, session: &Session) {
        if self.cache_usable().await
            && let Err(err) = self.cache.put_session(session, self.clock.now_ms()).await
        {
            self.cache_failed(&err);
        }
    }

    /// Stores a new family: in the cache and behind it in the store, or in the store at once
    /// when the cache is away.
    pub async fn insert(&self, session: &Session, nonce: Option<Nonce<'_>>) -> Result<()> {
        let now = self.clock.now_ms();
        if self.cache_usable().await {
            let put = match nonce {
                Some(nonce) => self.cache.put_session_with_nonce(session, now, nonce).await,
                None => self.cache.put_session(session, now).await,
            };
            match put {
                Ok(_) => {
                    self.write_behind.push(Record::Session(session.clone()));
                    return Ok(());
                }
                Err(err) => self.cache_failed(&err),
            }
        }
        self.store.insert_session(session).await?;
        if let Some(nonce) = nonce {
            self.store
                .register_nonce(nonce.value, session.account, &session.id, nonce.expires_ms)
                .await?;
        }
        Ok(())
    }

    /// Replaces a family if nobody changed it since generation `expected`; answers whether it
    /// was replaced.
    pub async fn update(
        &self,
        session: &Session,
        expected: i64,
        nonce: Option<Nonce<'_>>,
    ) -> Result<bool> {
        let now = self.clock.now_ms();
        if self.cache_usable().await {
            let swapped = match nonce {
                Some(nonce) => {
                    self.cache
                        .update_session_with_nonce(session, expected, nonce, now)
                        .await
                }
                None => self.cache.update_session(session, expected).await,
            };
            let swapped = match swapped {
                Ok(Cas::Swapped) => Ok(true),
                Ok(Cas::Conflict) => Ok(false),
                // The cache lost the family: put it back unless a racer already did.
                Ok(Cas::Missing) => match nonce {
                    Some(nonce) => self.cache.put_session_with_nonce(session, now, nonce).await,
                    None => self.cache.put_session(session, now).await,
                },
                Err(err) => Err(err),
            };
            match swapped {
                Ok(true) => {
                    self.write_behind.push(Record::Session(session.clone()));
                    return Ok(true);
                }
                Ok(false) => return Ok(false),
                Err(err) => self.cache_failed(&err),
            }
        }
        self.catch_up().await;
        let swapped = self.store.update_session(session, expected).await?;
        if swapped {
            self.mark_dirty(session.account, &session.id);
            if let Some(nonce) = nonce {
                self.store
                    .register_nonce(nonce.value, session.account, &session.id, nonce.expires_ms)
                    .await?;
            }
        }
        Ok(swapped)
    }

    /// Revokes a family for good: in the cache, in the store at once, and behind (so that a
    /// copy still queued cannot bring it back).
    pub async fn revoke(&self, session: &Session, revocation: Revocation) -> Result<()> {
        let mut written = false;
        if self.cache_usable().await {
            match self
                .cache
                .revoke_session(session.account, &session.id, revocation)
                .await
            {
                Ok(()) => written = true,
                Err(err) => self.cache_failed(&err),
            }
        }
        if !written {
            self.mark_dirty(session.account, &session.id);
        }
        let stored = self
            .store
            .revoke_session(&session.id, revocation.reason, revocation.at_ms)
            .await;
        self.write_behind
            .push(Record::Revoked(session.id.clone(), revocation));
        match stored {
            Ok(_) => Ok(()),
            Err(_) if written => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Revokes every family of an account; answers the ids revoked.
    pub async fn revoke_account(
        &self,
        account: AccountId,
        reason: RevokeReason,
        now: Millis,
    ) -> Result<Vec<SessionId>> {
        let revocation = Revocation { at_ms: now, reason };
        let mut ids: HashSet<SessionId> = HashSet::new();
        if self.cache_usable().await {
            match self.cache.revoke_account(account, revocation).await {
                Ok(cached) => ids.extend(cached),
                Err(err) => self.cache_failed(&err),
            }
        }
        for id in &ids {
            self.write_behind
                .push(Record::Revoked(id.clone(), revocation));
        }
        let stored = self
            .store
            .revoke_account_sessions(account, reason, now)
            .await?;
        for id in &stored {
            self.mark_dirty(account, id);
        }
        ids.extend(stored);
        Ok(ids.into_iter().collect())
    }

    /// The account an identity belongs to, from the cache or else the store. Accounts from the
    /// cache carry no username or password hash.
    pub async fn account_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<Account>> {
        if self.cache_usable().await {
            match self.cached_identity(provider, subject).await {
                Ok(Some(account)) => return Ok(Some(account)),
                Ok(None) => {}
                Err(err) => self.cache_failed(&err),
            }
        }
        let found = self.store.account_by_identity(provider, subject).await?;
        if let Some(account) = &found {
            self.remember_identity(provider, subject, account).await;
        }
        Ok(found)
    }

    async fn cached_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> std::result::Result<Option<Account>, CacheError> {
        let Some(id) = self.cache.identity(provider, subject).await? else {
            return Ok(None);
        };
        self.cache.account(id).await
    }

    /// Caches an identity's account (best effort).
    pub async fn remember_identity(&self, provider: &str, subject: &str, account: &Account) {
        if !self.cache_usable().await {
            return;
        }
        let cached = match self.cache.put_account(account).await {
            Ok(()) => self.cache.put_identity(provider, subject, account.id).await,
            Err(err) => Err(err),
        };
        if let Err(err) = cached {
            self.cache_failed(&err);
        }
    }

    /// Drops an identity's cached account, as after unlinking it (best effort).
    pub async fn forget_identity(&self, provider: &str, subject: &str) {
        if !self.cache_usable().await {
            return;
        }
        if let Err(err) = self.cache.forget_identity(provider, subject).await {
            self.cache_failed(&err);
        }
    }

    /// Replaces the cached copy of an account just changed in the store (best effort; cached
    /// copies expire within the lookup TTL regardless).
    pub async fn remember_account(&self, account: &Account) {
        if !self.cache_usable().await {
            return;
        }
        if let Err(err) = self.cache.put_account(account).await {
            self.cache_failed(&err);
        }
    }

    /// The account's live session families (at most [`LIVE_MAX`], newest first): the store's
    /// copies, overridden by the cache's, which are newer (a family opened, rotated or ended
    /// within the last write-behind interval is in the cache first).
    pub async fn live_sessions(
        &self,
        account: AccountId,
        now: Millis,
    ) -> Result<Vec<SessionSummary>> {
        let stored = self.store.live_sessions(account, now).await?;
        let mut live: HashMap<String, SessionSummary> =
            stored.into_iter().map(|s| (s.id.clone(), s)).collect();
        if self.cache_usable().await {
            match self.cached_families(account).await {
                Ok(cached) => {
                    for family in cached {
                        let id = family.id.to_string();
                        if family.revoked.is_some()
                            || family.expires_ms <= now
                            || family.absolute_ms <= now
                        {
                            live.remove(&id);
                        } else {
                            live.insert(id, SessionSummary::from(&family));
                        }
                    }
                }
                Err(err) => self.cache_failed(&err),
            }
        }
        let mut live: Vec<SessionSummary> = live.into_values().collect();
        live.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id)));
        live.truncate(LIVE_MAX);
        Ok(live)
    }

    /// The account's families as the cache holds them, up to [`LIVE_MAX`] of them.
    async fn cached_families(&self, account: AccountId) -> CacheResult<Vec<Session>> {
        let mut families = Vec::new();
        for id in self.cache.session_ids(account).await?.iter().take(LIVE_MAX) {
            if let Some(family) = self.cache.session(account, id).await? {
                families.push(family);
            }
        }
        Ok(families)
    }

    /// An account by id, from the cache or else the store.
    pub async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        if self.cache_usable().await {
            match self.cache.account(id).await {
                Ok(Some(account)) => return Ok(Some(account)),
                Ok(None) => {}
                Err(err) => self.cache_failed(&err),
            }
        }
        let found = self.store.account(id).await?;
        if let Some(account) = &found
            && self.cache_usable().await
            && let Err(err) = self.cache.put_account(account).await
        {
            self.cache_failed(&err);
        }
        Ok(found)
    }
}
