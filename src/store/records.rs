//! What the stores read and write: accounts, new accounts, and the rows they map from.

use crate::domain::clock::Millis;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, RevokeReason, Session, decode_retired};

use super::{StoreError, StoreResult};

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

/// A guest account to create for an identity: a device id or a platform subject.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    /// `device`, `apple`, `google` or `facebook`.
    pub provider: String,
    pub subject: String,
    pub zone: i32,
    pub register_ip: Option<String>,
    pub now_ms: Millis,
}

/// The account of an identity, and whether this call created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityAccount {
    pub account: Account,
    pub created: bool,
}

/// An identity attached to an account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdentityRecord {
    pub provider: String,
    pub subject: String,
}

/// What unlinking identities did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlinked {
    /// The subjects removed.
    Removed(Vec<String>),
    /// The account has no such identity.
    NotLinked,
    /// Nothing was removed: the account would be left with no way in.
    LastWayIn,
}

impl Account {
    /// A guest account as just created.
    pub fn new_guest(id: AccountId, zone: i32, now_ms: Millis) -> Self {
        Account {
            id,
            zone,
            username: None,
            password_hash: None,
            default_color: None,
            status: AccountStatus::Active,
            banned_until_ms: None,
            created_ms: now_ms,
        }
    }
}

/// The latest sign-in of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastLogin {
    pub account: AccountId,
    pub ip: Option<String>,
    pub at_ms: Millis,
}

/// One sign-in, for the append-only event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEvent {
    pub account: AccountId,
    pub provider: &'static str,
    pub ip: Option<String>,
    pub at_ms: Millis,
}

/// One write-behind batch, coalesced: at most one session copy per family and one last sign-in
/// per account.
#[derive(Debug, Clone, Default)]
pub struct Flush {
    pub sessions: Vec<Session>,
    /// Revocations of families, applied after the copies above.
    pub revocations: Vec<(SessionId, Revocation)>,
    pub logins: Vec<LastLogin>,
    pub events: Vec<LoginEvent>,
}

impl Flush {
    pub fn len(&self) -> usize {
        self.sessions.len() + self.revocations.len() + self.logins.len() + self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Columns of an account row, common to both stores.
#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
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

/// An identity with its account.
#[derive(sqlx::FromRow)]
pub(super) struct IdentityAccountRow {
    pub provider: String,
    pub subject: String,
    #[sqlx(flatten)]
    pub account: AccountRow,
}

/// Columns of a session row, common to both stores.
#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id: String,
    account_id: i64,
    secret_hash: Vec<u8>,
    retired: Vec<u8>,
    generation: i64,
    epoch: i64,
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
            epoch: r.epoch,
            created_ms: r.created_ms,
            expires_ms: r.expires_ms,
            absolute_ms: r.absolute_ms,
            revoked,
        })
    }
}
