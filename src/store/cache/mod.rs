//! The hot-state cache: session families, identity-to-account lookups and account summaries,
//! in Redis (shared by every node, keys hash-tagged per account so Redis Cluster works) or in
//! process (one node). Every change that guards an invariant is one atomic operation: a Lua
//! script in Redis, a locked map entry in process.

mod codec;
mod memory;
mod redis;

use async_trait::async_trait;

pub use self::memory::MemoryCache;
pub use self::redis::RedisCache;
use crate::domain::clock::Millis;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, Revoked, Session};
use crate::store::Account;

/// The cache failed or did not answer in time; callers fall back to the store.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cache: {0}")]
pub struct CacheError(pub String);

pub type CacheResult<T> = Result<T, CacheError>;

/// The outcome of a compare-and-set on a family's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cas {
    Swapped,
    /// Another writer changed or revoked the family first.
    Conflict,
    /// The cache does not hold the family.
    Missing,
}

#[async_trait]
pub trait Cache: Send + Sync + 'static {
    async fn ping(&self) -> CacheResult<()>;

    async fn session(&self, account: AccountId, id: &SessionId) -> CacheResult<Option<Session>>;

    /// Stores a family unless the cache holds the same or a newer generation; a revocation is
    /// kept either way. Answers whether the family was written.
    async fn put_session(&self, session: &Session, now: Millis) -> CacheResult<bool>;

    /// Replaces a family if its cached generation is `expected` (or older: a stale copy) and it
    /// is not revoked.
    async fn update_session(&self, session: &Session, expected: i64) -> CacheResult<Cas>;

    /// Marks one family revoked if the cache holds it.
    async fn revoke_session(
        &self,
        account: AccountId,
        id: &SessionId,
        revocation: Revocation,
    ) -> CacheResult<()>;

    /// The ids of the account's session families the cache holds (live or not).
    async fn session_ids(&self, account: AccountId) -> CacheResult<Vec<SessionId>>;

    /// Marks every cached family of an account revoked; answers their ids.
    async fn revoke_account(
        &self,
        account: AccountId,
        revocation: Revocation,
    ) -> CacheResult<Vec<SessionId>>;

    async fn identity(&self, provider: &str, subject: &str) -> CacheResult<Option<AccountId>>;

    async fn put_identity(
        &self,
        provider: &str,
        subject: &str,
        account: AccountId,
    ) -> CacheResult<()>;

    /// Drops an identity's cached account.
    async fn forget_identity(&self, provider: &str, subject: &str) -> CacheResult<()>;

    /// A cached account summary: no username and no password hash.
    async fn account(&self, id: AccountId) -> CacheResult<Option<Account>>;

    async fn put_account(&self, account: &Account) -> CacheResult<()>;

    async fn forget_account(&self, id: AccountId) -> CacheResult<()>;

    /// Registers a handshake-token nonce for a family until `expires_ms`.
    async fn register_nonce(
        &self,
        account: AccountId,
        nonce: &str,
        session: &SessionId,
        expires_ms: Millis,
        now: Millis,
    ) -> CacheResult<()>;

    /// Consumes a nonce: answers its family once, then never again.
    async fn consume_nonce(
        &self,
        account: AccountId,
        nonce: &str,
    ) -> CacheResult<Option<SessionId>>;

    /// The account's next sign-in epoch: above every earlier one, and at least `now`.
    async fn next_epoch(&self, account: AccountId, now: Millis) -> CacheResult<i64>;

    /// The account's latest sign-in epoch (0 when none is known).
    async fn current_epoch(&self, account: AccountId) -> CacheResult<i64>;

    /// Marks revoked every cached family of the account with an epoch below `epoch`.
    async fn revoke_older(
        &self,
        account: AccountId,
        epoch: i64,
        revocation: Revocation,
    ) -> CacheResult<Vec<SessionId>>;

    /// Families of the account, other than `except`, that are neither revoked nor expired.
    async fn other_live(
        &self,
        account: AccountId,
        except: &SessionId,
        now: Millis,
    ) -> CacheResult<Vec<SessionId>>;

    /// Appends to the revocation log; answers the sequence of each event.
    async fn append_revocations(&self, events: &[Revoked]) -> CacheResult<Vec<String>>;

    /// Up to `count` logged revocations after sequence `after` (`""` for the oldest kept).
    async fn revocations_after(
        &self,
        after: &str,
        count: usize,
    ) -> CacheResult<Vec<(String, Revoked)>>;

    /// The oldest and newest sequence in the log, if any.
    async fn revocation_bounds(&self) -> CacheResult<Option<(String, String)>>;

    /// True when several nodes share this cache (and its revocation log).
    fn shared(&self) -> bool;

    /// [`Cache::put_session`], and when written, [`Cache::register_nonce`] for it: in one round
    /// trip where the cache can.
    async fn put_session_with_nonce(
        &self,
        session: &Session,
        now: Millis,
        nonce: Nonce<'_>,
    ) -> CacheResult<bool> {
        let written = self.put_session(session, now).await?;
        if written {
            self.register_nonce(
                session.account,
                nonce.value,
                &session.id,
                nonce.expires_ms,
                now,
            )
            .await?;
        }
        Ok(written)
    }

    /// [`Cache::update_session`], and when swapped, [`Cache::register_nonce`] for it: in one
    /// round trip where the cache can.
    async fn update_session_with_nonce(
        &self,
        session: &Session,
        expected: i64,
        nonce: Nonce<'_>,
        now: Millis,
    ) -> CacheResult<Cas> {
        let swapped = self.update_session(session, expected).await?;
        if swapped == Cas::Swapped {
            self.register_nonce(
                session.account,
                nonce.value,
                &session.id,
                nonce.expires_ms,
                now,
            )
            .await?;
        }
        Ok(swapped)
    }

    /// Consumes a nonce and reads what validation needs next, the family and the account: in
    /// one round trip where the cache can. `None` when the nonce is not (or no longer) here.
    async fn take_nonce(&self, account: AccountId, nonce: &str) -> CacheResult<Option<Taken>> {
        let Some(session) = self.consume_nonce(account, nonce).await? else {
            return Ok(None);
        };
        let family = self.session(account, &session).await?;
        let summary = self.account(account).await?;
        Ok(Some(Taken {
            session,
            family,
            account: summary,
        }))
    }

    /// The version of the notices, which every notice change raises, so that other nodes
    /// sharing the cache reload theirs. A cache that serves one node has nothing to tell.
    async fn notices_version(&self) -> CacheResult<i64> {
        Ok(0)
    }

    /// Raises the version of the notices after a change has committed.
    async fn bump_notices(&self) -> CacheResult<()> {
        Ok(())
    }

    /// Closes connections at shutdown.
    async fn close(&self) {}
}

/// A handshake-token nonce to register with a family.
#[derive(Debug, Clone, Copy)]
pub struct Nonce<'a> {
    pub value: &'a str,
    pub expires_ms: Millis,
}

/// A consumed nonce, with the family and account as the cache had them.
#[derive(Debug, Clone)]
pub struct Taken {
    pub session: SessionId,
    pub family: Option<Session>,
    pub account: Option<Account>,
}

/// Orders sequences (`<milliseconds>-<counter>`, as Redis streams write them).
pub fn sequence_key(sequence: &str) -> Option<(u64, u64)> {
    let (ms, n) = sequence.split_once('-')?;
    Some((ms.parse().ok()?, n.parse().ok()?))
}

/// How long identity and account lookups stay cached, seconds.
pub const LOOKUP_TTL_SECS: i64 = 3600;
