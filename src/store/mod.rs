//! The durable store: accounts, identities and session families, behind one trait with a
//! PostgreSQL and an SQLite implementation. Both apply their migrations when opened.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::Error;
use crate::domain::clock::Millis;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, RevokeReason, Session, decode_retired};

mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken.
    #[error("conflict on a unique key")]
    Conflict,
    /// The store cannot be reached or is overloaded; worth retrying.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &err {
            E::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            E::Database(db) if is_transient(db.code().as_deref()) => {
                StoreError::Unavailable(err.to_string())
            }
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
                StoreError::Unavailable(err.to_string())
            }
            _ => StoreError::Internal(err.to_string()),
        }
    }
}

/// Database error codes that mean "not now" rather than "never": SQLite busy and locked;
/// PostgreSQL connection failures (08), missing database (3D000), shutdown and start-up (57P),
/// and exhausted resources (53).
fn is_transient(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    matches!(code, "5" | "6" | "517" | "3D000")
        || code.starts_with("08")
        || code.starts_with("57P")
        || code.starts_with("53")
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What the client is told; the detail goes to the log through the edge.
impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(detail) => Error::unavailable(1, detail),
            StoreError::Conflict => Error::conflict("already exists"),
            StoreError::Internal(detail) => Error::internal(detail),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Banned,
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub zone: i32,
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub default_color: Option<String>,
    pub status: AccountStatus,
    pub banned_until_ms: Option<Millis>,
    pub created_ms: Millis,
}

impl Account {
    /// True when the account may not sign in at `now`.
    pub fn is_banned(&self, now: Millis) -> bool {
        self.status == AccountStatus::Banned && self.banned_until_ms.is_none_or(|until| now < until)
    }
}

/// A username account to create.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub zone: i32,
    pub username: &'a str,
    pub username_key: &'a str,
    pub password_hash: &'a str,
    pub register_ip: Option<&'a str>,
    pub now_ms: Millis,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the store can serve queries.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates an account; [`StoreError::Conflict`] when the username is taken.
    async fn create_account(&self, new: &NewAccount<'_>) -> StoreResult<Account>;

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;

    async fn account_by_username(&self, username_key: &str) -> StoreResult<Option<Account>>;

    async fn set_password_hash(&self, id: AccountId, hash: &str, now: Millis) -> StoreResult<()>;

    /// Records the time and address of a sign-in.
    async fn record_login(&self, id: AccountId, ip: Option<&str>, now: Millis) -> StoreResult<()>;

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

/// Columns of an account row, common to both stores.
#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    zone: i32,
    username: Option<String>,
    password_hash: Option<String>,
    default_color: Option<String>,
    status: String,
    banned_until_ms: Option<i64>,
    created_ms: i64,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            id: AccountId(r.id),
            zone: r.zone,
            username: r.username,
            password_hash: r.password_hash,
            default_color: r.default_color,
            status: if r.status == "banned" {
                AccountStatus::Banned
            } else {
                AccountStatus::Active
            },
            banned_until_ms: r.banned_until_ms,
            created_ms: r.created_ms,
        }
    }
}

/// Columns of a session row, common to both stores.
#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    account_id: i64,
    secret_hash: Vec<u8>,
    retired: Vec<u8>,
    generation: i64,
    created_ms: i64,
    expires_ms: i64,
    absolute_ms: i64,
    revoked_ms: Option<i64>,
    revoke_reason: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(r: SessionRow) -> StoreResult<Session> {
        let corrupt = || StoreError::Internal(format!("session {} is corrupt", r.id));
        let id = SessionId::parse(&r.id).ok_or_else(corrupt)?;
        let current: [u8; 32] = r.secret_hash.as_slice().try_into().map_err(|_| corrupt())?;
        let revoked = match (r.revoked_ms, r.revoke_reason.as_deref()) {
            (Some(at_ms), reason) => Some(Revocation {
                at_ms,
                reason: reason
                    .and_then(RevokeReason::parse)
                    .unwrap_or(RevokeReason::Logout),
            }),
            (None, _) => None,
        };
        Ok(Session {
            id,
            account: AccountId(r.account_id),
            current,
            retired: decode_retired(&r.retired),
            generation: r.generation,
            created_ms: r.created_ms,
            expires_ms: r.expires_ms,
            absolute_ms: r.absolute_ms,
            revoked,
        })
    }
}
