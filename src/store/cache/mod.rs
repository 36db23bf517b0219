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
use crate::domain::session::{Revocation, Session};
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

    /// A cached account summary: no username and no password hash.
    async fn account(&self, id: AccountId) -> CacheResult<Option<Account>>;

    async fn put_account(&self, account: &Account) -> CacheResult<()>;

    async fn forget_account(&self, id: AccountId) -> CacheResult<()>;

    /// Closes connections at shutdown.
    async fn close(&self) {}
}

/// How long identity and account lookups stay cached, seconds.
pub const LOOKUP_TTL_SECS: i64 = 3600;
