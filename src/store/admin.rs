//! What the admin API reads and writes: account search, bans, colours, password resets, and the
//! audit trail. Every change made here commits together with its audit record.

use async_trait::async_trait;

use super::{Account, AccountStatus, StoreResult};
use crate::domain::clock::Millis;
use crate::domain::ids::AccountId;
use crate::domain::session::Session;

/// One admin action, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The admin key's name.
    pub actor: String,
    /// Such as `account.ban`.
    pub action: String,
    /// Such as `account:42` or `notice:7`.
    pub target: String,
    /// What was asked, as JSON; never a secret.
    pub detail: String,
    pub at_ms: Millis,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
}

/// Which audit records to read: newest first, ids below `before`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// An account with what operators look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDetail {
    pub account: Account,
    pub has_password: bool,
    pub ban_reason: Option<String>,
    pub updated_ms: Millis,
    pub register_ip: Option<String>,
    pub last_login_ip: Option<String>,
    pub last_login_ms: Option<Millis>,
}

/// Which accounts to list: every given filter applies; ids ascending, above `after`.
#[derive(Debug, Clone, Default)]
pub struct AccountQuery {
    pub id: Option<AccountId>,
    /// Prefix of the lower-cased username.
    pub username_prefix: Option<String>,
    /// (provider, subject); device ids are provider `device`.
    pub identity: Option<(String, String)>,
    pub color: Option<String>,
    /// `Banned` means banned at `now`; `Active` means not.
    pub status: Option<AccountStatus>,
    pub created_from_ms: Option<Millis>,
    pub created_before_ms: Option<Millis>,
    pub after: Option<AccountId>,
    pub limit: u32,
    pub now_ms: Millis,
}

/// A ban to apply: why, and until when (none: until lifted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub reason: String,
    pub until_ms: Option<Millis>,
}

/// A sign-in event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEventRecord {
    pub id: i64,
    pub provider: String,
    pub ip: Option<String>,
    pub at_ms: Millis,
}

/// A live session family, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub id: String,
    pub generation: i64,
    pub created_ms: Millis,
    pub expires_ms: Millis,
    pub absolute_ms: Millis,
}

/// A change to an account's own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange<'a> {
    Ban(&'a Ban),
    Unban,
    /// None clears it.
    DefaultColor(Option<&'a str>),
    PasswordHash(&'a str),
}

#[async_trait]
pub trait AdminStore: Send + Sync {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;

    async fn audit_log(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>>;

    async fn search_accounts(&self, query: &AccountQuery) -> StoreResult<Vec<AccountDetail>>;

    /// The accounts of `ids` that exist, in id order.
    async fn account_details(&self, ids: &[AccountId]) -> StoreResult<Vec<AccountDetail>>;

    /// Applies `change` and appends `audit` in one transaction; answers the account as changed,
    /// or none (and nothing written) when it does not exist.
    async fn change_account(
        &self,
        id: AccountId,
        change: AccountChange<'_>,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Account>>;

    /// The account's sign-in events, newest first, ids below `before`.
    async fn login_events(
        &self,
        id: AccountId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<LoginEventRecord>>;

    /// The account's families that are neither revoked nor expired at `now`, newest first.
    async fn live_sessions(&self, id: AccountId, now: Millis) -> StoreResult<Vec<SessionSummary>>;
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` prefix pattern.
pub(super) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Columns of an account detail row, common to both stores.
#[derive(sqlx::FromRow)]
pub(super) struct DetailRow {
    #[sqlx(flatten)]
    account: super::records::AccountRow,
    has_password: bool,
    ban_reason: Option<String>,
    updated_ms: i64,
    register_ip: Option<String>,
    last_login_ip: Option<String>,
    last_login_ms: Option<i64>,
}

impl From<DetailRow> for AccountDetail {
    fn from(r: DetailRow) -> Self {
        AccountDetail {
            account: r.account.into(),
            has_password: r.has_password,
            ban_reason: r.ban_reason,
            updated_ms: r.updated_ms,
            register_ip: r.register_ip,
            last_login_ip: r.last_login_ip,
            last_login_ms: r.last_login_ms,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    at_ms: i64,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        AuditRecord {
            id: r.id,
            entry: AuditEntry {
                actor: r.actor,
                action: r.action,
                target: r.target,
                detail: r.detail,
                at_ms: r.at_ms,
            },
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    id: i64,
    provider: String,
    ip: Option<String>,
    at_ms: i64,
}

impl From<EventRow> for LoginEventRecord {
    fn from(r: EventRow) -> Self {
        LoginEventRecord {
            id: r.id,
            provider: r.provider,
            ip: r.ip,
            at_ms: r.at_ms,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SummaryRow {
    id: String,
    generation: i64,
    created_ms: i64,
    expires_ms: i64,
    absolute_ms: i64,
}

impl From<SummaryRow> for SessionSummary {
    fn from(r: SummaryRow) -> Self {
        SessionSummary {
            id: r.id,
            generation: r.generation,
            created_ms: r.created_ms,
            expires_ms: r.expires_ms,
            absolute_ms: r.absolute_ms,
        }
    }
}

impl From<&Session> for SessionSummary {
    fn from(s: &Session) -> Self {
        SessionSummary {
            id: s.id.to_string(),
            generation: s.generation,
            created_ms: s.created_ms,
            expires_ms: s.expires_ms,
            absolute_ms: s.absolute_ms,
        }
    }
}

/// Appends the filters, order and limit of an account search. `ts` names the SQL function
/// that turns milliseconds into the store's time (empty where times are milliseconds).
pub(super) fn push_account_filters<DB>(qb: &mut sqlx::QueryBuilder<DB>, q: &AccountQuery, ts: &str)
where
    DB: sqlx::Database,
    for<'e> i64: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    for<'e> String: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    if let Some(id) = q.id {
        qb.push(" AND a.id = ").push_bind(id.0);
    }
    if let Some(prefix) = &q.username_prefix {
        qb.push(" AND a.username_key LIKE ")
            .push_bind(like_prefix(prefix))
            .push(" ESCAPE '\\'");
    }
    if let Some((provider, subject)) = &q.identity {
        qb.push(" AND a.id IN (SELECT account_id FROM identities WHERE provider = ")
            .push_bind(provider.clone())
            .push(" AND subject = ")
            .push_bind(subject.clone())
            .push(")");
    }
    if let Some(color) = &q.color {
        qb.push(" AND a.default_color = ").push_bind(color.clone());
    }
    if let Some(status) = q.status {
        qb.push(match status {
            AccountStatus::Banned => " AND",
            AccountStatus::Active => " AND NOT",
        });
        qb.push(" (a.status = 'banned' AND (a.banned_until IS NULL OR a.banned_until > ")
            .push(ts)
            .push("(")
            .push_bind(q.now_ms)
            .push(")))");
    }
    if let Some(from) = q.created_from_ms {
        qb.push(" AND a.created_at >= ")
            .push(ts)
            .push("(")
            .push_bind(from)
            .push(")");
    }
    if let Some(before) = q.created_before_ms {
        qb.push(" AND a.created_at < ")
            .push(ts)
            .push("(")
            .push_bind(before)
            .push(")");
    }
    if let Some(after) = q.after {
        qb.push(" AND a.id > ").push_bind(after.0);
    }
    qb.push(" ORDER BY a.id LIMIT ")
        .push_bind(i64::from(q.limit));
}

/// Appends the filters, order and limit of an audit-log read.
pub(super) fn push_audit_filters<DB>(qb: &mut sqlx::QueryBuilder<DB>, q: &AuditQuery)
where
    DB: sqlx::Database,
    for<'e> i64: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    for<'e> String: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    for (column, value) in [
        (" AND actor = ", &q.actor),
        (" AND action = ", &q.action),
        (" AND target = ", &q.target),
    ] {
        if let Some(value) = value {
            qb.push(column).push_bind(value.clone());
        }
    }
    if let Some(before) = q.before {
        qb.push(" AND id < ").push_bind(before);
    }
    qb.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(q.limit));
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_prefix_escapes_wildcards() {
        assert_eq!(super::like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(super::like_prefix("qa"), "qa%");
    }
}
