//! The admin queries on SQLite.

use async_trait::async_trait;
use const_format::concatcp;
use sqlx::{QueryBuilder, Sqlite};

use super::{ACCOUNT_COLUMNS, SqliteStore};
use crate::domain::clock::Millis;
use crate::domain::ids::AccountId;
use crate::store::admin::{
    AccountChange, AccountDetail, AccountQuery, AdminStore, AuditEntry, AuditQuery, AuditRecord,
    AuditRow, DetailRow, EventRow, LoginEventRecord, SessionSummary, SummaryRow,
    push_account_filters, push_audit_filters,
};
use crate::store::records::AccountRow;
use crate::store::{Account, StoreResult};

const DETAIL_COLUMNS: &str = "a.id, a.zone, a.username, a.password_hash, a.default_color, \
    a.status, a.banned_until AS banned_until_ms, a.created_at AS created_ms, \
    a.password_hash IS NOT NULL AS has_password, a.ban_reason, a.updated_at AS updated_ms, \
    a.register_ip, a.last_login_ip, a.last_login_at AS last_login_ms";

const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)";

/// Writes `e` as an audit record about `target`, through the pool or within a change's
/// transaction.
pub(super) async fn insert_audit<'e>(
    db: impl sqlx::SqliteExecutor<'e>,
    e: &AuditEntry,
    target: &str,
) -> StoreResult<()> {
    sqlx::query(INSERT_AUDIT)
        .bind(e.at_ms)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(target)
        .bind(&e.detail)
        .execute(db)
        .await?;
    Ok(())
}

#[async_trait]
impl AdminStore for SqliteStore {
    async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        insert_audit(&self.pool, e, &e.target).await
    }

    async fn audit_log(&self, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT id, at AS at_ms, actor, action, target, detail FROM audit_log WHERE 1",
        );
        push_audit_filters(&mut qb, q);
        let rows: Vec<AuditRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    async fn search_accounts(&self, q: &AccountQuery) -> StoreResult<Vec<AccountDetail>> {
        let mut qb = QueryBuilder::<Sqlite>::new(concatcp!(
            "SELECT ",
            DETAIL_COLUMNS,
            " FROM accounts a WHERE 1"
        ));
        push_account_filters(&mut qb, q, "");
        let rows: Vec<DetailRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(AccountDetail::from).collect())
    }

    async fn account_details(&self, ids: &[AccountId]) -> StoreResult<Vec<AccountDetail>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Sqlite>::new(concatcp!(
            "SELECT ",
            DETAIL_COLUMNS,
            " FROM accounts a WHERE a.id IN ("
        ));
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(id.0);
        }
        qb.push(") ORDER BY a.id");
        let rows: Vec<DetailRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(AccountDetail::from).collect())
    }

    async fn change_account(
        &self,
        id: AccountId,
        change: AccountChange<'_>,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Account>> {
        const RETURNING: &str = concatcp!(" WHERE id = ?1 RETURNING ", ACCOUNT_COLUMNS);
        let now = audit.at_ms;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let query = match change {
            AccountChange::Ban(ban) => sqlx::query_as::<_, AccountRow>(concatcp!(
                "UPDATE accounts SET status = 'banned', ban_reason = ?2, banned_until = ?3, \
                 updated_at = ?4",
                RETURNING
            ))
            .bind(id.0)
            .bind(&ban.reason)
            .bind(ban.until_ms)
            .bind(now),
            AccountChange::Unban => sqlx::query_as::<_, AccountRow>(concatcp!(
                "UPDATE accounts SET status = 'active', ban_reason = NULL, banned_until = NULL, \
                 updated_at = ?2",
                RETURNING
            ))
            .bind(id.0)
            .bind(now),
            AccountChange::DefaultColor(color) => sqlx::query_as::<_, AccountRow>(concatcp!(
                "UPDATE accounts SET default_color = ?2, updated_at = ?3",
                RETURNING
            ))
            .bind(id.0)
            .bind(color)
            .bind(now),
            AccountChange::PasswordHash(hash) => sqlx::query_as::<_, AccountRow>(concatcp!(
                "UPDATE accounts SET password_hash = ?2, updated_at = ?3",
                RETURNING
            ))
            .bind(id.0)
            .bind(hash)
            .bind(now),
        };
        let Some(row) = query.fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        insert_audit(&mut *tx, audit, &audit.target).await?;
        tx.commit().await?;
        Ok(Some(row.into()))
    }

    async fn login_events(
        &self,
        id: AccountId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<LoginEventRecord>> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT id, provider, ip, at AS at_ms FROM login_events \
             WHERE account_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
        )
        .bind(id.0)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(LoginEventRecord::from).collect())
    }

    async fn live_sessions(&self, id: AccountId, now: Millis) -> StoreResult<Vec<SessionSummary>> {
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "SELECT id, generation, created_at AS created_ms, expires_at AS expires_ms, \
             absolute_expires_at AS absolute_ms FROM sessions \
             WHERE account_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 \
             AND absolute_expires_at > ?2 ORDER BY created_at DESC, id LIMIT 100",
        )
        .bind(id.0)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(SessionSummary::from).collect())
    }
}
