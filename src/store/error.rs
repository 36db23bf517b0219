//! Store failures and how clients see them.

use crate::domain::Error;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken.
    #[error("conflict on a unique key")]
    Conflict,
    /// A row the call works on does not exist.
    #[error("not found")]
    NotFound,
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
/// PostgreSQL connection failures (08, but not a protocol violation), missing database (3D000),
/// shutdown and start-up (57P),
/// and exhausted resources (53).
fn is_transient(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    matches!(code, "5" | "6" | "517" | "3D000")
        || (code.starts_with("08") && code != "08P01")
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
            StoreError::NotFound => Error::not_found("not found"),
            StoreError::Internal(detail) => Error::internal(detail),
        }
    }
}
