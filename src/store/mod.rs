//! Persistence. The durable store (accounts, identities, session families, sign-in events)
//! sits behind the [`Store`] trait with a PostgreSQL and an SQLite implementation, both applying
//! their migrations when opened. Above it: the hot-state cache (`cache`), the tiered view that
//! reads the cache first and falls back to the store (`tiered`), group-committed account
//! creation (`creator`), the write-behind queue (`write_behind`) and the in-memory board of
//! notices that clients are served from (`notice_board`).

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::clock::Millis;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{RevokeReason, Session};

pub mod admin;
pub mod cache;
pub mod creator;
mod error;
pub mod notice_board;
pub mod notices;
mod postgres;
mod records;
pub mod revocations;
mod sqlite;
pub mod tiered;
pub mod write_behind;

pub use error::{StoreError, StoreResult};
pub use postgres::PgStore;
pub use records::{
    Account, AccountStatus, Flush, IdentityAccount, IdentityRecord, LastLogin, LoginEvent,
    NewAccount, NewIdentity, Unlinked,
};
pub use sqlite::SqliteStore;

#[async_trait]
pub trait Store: admin::AdminStore + notices::NoticeStore + Send + Sync + 'static {
    /// Answers when the store can serve queries.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates a username account; [`StoreError::Conflict`] when the username is taken.
    async fn create_account(&self, new: &NewAccount<'_>) -> StoreResult<Account>;

    /// Creates guest accounts for identities in one transaction (group commit). Answers one
    /// entry per input, in order: the new account, or the existing one when the identity already
    /// has one. An identity listed twice gets one account, and one of its entries is marked
    /// created.
    async fn create_identity_accounts(
        &self,
        batch: &[NewIdentity],
    ) -> StoreResult<Vec<IdentityAccount>>;

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;

    async fn account_by_username(&self, username_key: &str) -> StoreResult<Option<Account>>;

    /// The account an identity (provider, subject) belongs to.
    async fn account_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<Account>>;

    /// The identities of an account, ordered by provider, then subject.
    async fn identities(&self, account: AccountId) -> StoreResult<Vec<IdentityRecord>>;

    /// Attaches an identity to an account: `true` when attached now, `false` when the account
    /// had it already. [`StoreError::Conflict`] when it belongs to another account,
    /// [`StoreError::NotFound`] when the account does not exist.
    async fn link_identity(
        &self,
        account: AccountId,
        provider: &str,
        subject: &str,
        now: Millis,
    ) -> StoreResult<bool>;

    /// Removes the account's identities of `provider` (only `subject` when given), unless the
    /// account would be left with no way in: no identity and no password. Atomic against other
    /// unlinks of the same account. [`StoreError::NotFound`] when the account does not exist.
    async fn unlink_identity(
        &self,
        account: AccountId,
        provider: &str,
        subject: Option<&str>,
    ) -> StoreResult<Unlinked>;

    async fn set_password_hash(&self, id: AccountId, hash: &str, now: Millis) -> StoreResult<()>;

    async fn insert_session(&self, session: &Session) -> StoreResult<()>;

    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>>;

    /// Writes `session` if the stored generation is still `expected_generation` and the stored
    /// family is not revoked; answers whether it was written.
    async fn update_session(
        &self,
        session: &Session,
        expected_generation: i64,
    ) -> StoreResult<bool>;

    /// Revokes one family unless it is revoked already; answers whether it was live.
    async fn revoke_session(
        &self,
        id: &SessionId,
        reason: RevokeReason,
        now: Millis,
    ) -> StoreResult<bool>;

    /// Revokes every live family of an account; answers the ids revoked.
    async fn revoke_account_sessions(
        &self,
        id: AccountId,
        reason: RevokeReason,
        now: Millis,
    ) -> StoreResult<Vec<SessionId>>;

    /// Registers a handshake-token nonce (used while the cache is away).
    async fn register_nonce(
        &self,
        nonce: &str,
        account: AccountId,
        session: &SessionId,
        expires_ms: Millis,
    ) -> StoreResult<()>;

    /// Consumes a nonce of the account if it is registered and not expired: once.
    async fn consume_nonce(
        &self,
        nonce: &str,
        account: AccountId,
        now: Millis,
    ) -> StoreResult<Option<SessionId>>;

    /// The account's next sign-in epoch: above its last one, and at least `now`.
    async fn next_epoch(&self, account: AccountId, now: Millis) -> StoreResult<i64>;

    /// Revokes the account's live families with an epoch below `epoch`; answers their ids.
    async fn revoke_older(
        &self,
        account: AccountId,
        epoch: i64,
        reason: RevokeReason,
        now: Millis,
    ) -> StoreResult<Vec<SessionId>>;

    /// The account's live families other than `except`.
    async fn other_live(
        &self,
        account: AccountId,
        except: &SessionId,
        now: Millis,
    ) -> StoreResult<Vec<SessionId>>;

    /// Applies one write-behind batch in one transaction. Session copies never overwrite a newer
    /// generation and never lift a revocation.
    async fn flush(&self, batch: &Flush) -> StoreResult<()>;

    /// Closes the pool; pending calls finish first.
    async fn close(&self);
}

/// Opens the store named by `url`, applying migrations.
pub async fn open(
    url: &str,
    max_connections: u32,
    acquire_timeout_ms: u64,
) -> anyhow::Result<Arc<dyn Store>> {
    let timeout = std::time::Duration::from_millis(acquire_timeout_ms);
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            SqliteStore::open(url, max_connections, timeout).await?,
        ))
    } else {
        Ok(Arc::new(
            PgStore::open(url, max_connections, timeout).await?,
        ))
    }
}
