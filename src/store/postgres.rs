//! The PostgreSQL store. Times are kept as `timestamptz` and converted with the `lares_ts` and
//! `lares_ms` SQL functions of the first migration.

use std::time::Duration;

use async_trait::async_trait;
use const_format::concatcp;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{Account, AccountRow, NewAccount, SessionRow, Store, StoreResult};
use crate::domain::clock::Millis;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{RevokeReason, Session, encode_retired};

const ACCOUNT_COLUMNS: &str = "id, zone, username, password_hash, default_color, status, \
    lares_ms(banned_until) AS banned_until_ms, lares_ms(created_at) AS created_ms";

const SESSION_COLUMNS: &str = "id, account_id, secret_hash, retired, generation, \
    lares_ms(created_at) AS created_ms, lares_ms(expires_at) AS expires_ms, \
    lares_ms(absolute_expires_at) AS absolute_ms, lares_ms(revoked_at) AS revoked_ms, revoke_reason";

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str, max_connections: u32, acquire: Duration) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_account(&self, new: &NewAccount<'_>) -> StoreResult<Account> {
        const SQL: &str = concatcp!(
            "INSERT INTO accounts (zone, username, username_key, password_hash, created_at, \
             updated_at, register_ip) VALUES ($1, $2, $3, $4, lares_ts($5), lares_ts($5), $6) \
             RETURNING ",
            ACCOUNT_COLUMNS
        );
        let row: AccountRow = sqlx::query_as(SQL)
            .bind(new.zone)
            .bind(new.username)
            .bind(new.username_key)
            .bind(new.password_hash)
            .bind(new.now_ms)
            .bind(new.register_ip)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.into())
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        const SQL: &str = concatcp!("SELECT ", ACCOUNT_COLUMNS, " FROM accounts WHERE id = $1");
        let row: Option<AccountRow> = sqlx::query_as(SQL)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Account::from))
    }

    async fn account_by_username(&self, username_key: &str) -> StoreResult<Option<Account>> {
        const SQL: &str = concatcp!(
            "SELECT ",
            ACCOUNT_COLUMNS,
            " FROM accounts WHERE username_key = $1"
        );
        let row: Option<AccountRow> = sqlx::query_as(SQL)
            .bind(username_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Account::from))
    }

    async fn set_password_hash(&self, id: AccountId, hash: &str, now: Millis) -> StoreResult<()> {
        sqlx::query(
            "UPDATE accounts SET password_hash = $2, updated_at = lares_ts($3) WHERE id = $1",
        )
        .bind(id.0)
        .bind(hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_login(&self, id: AccountId, ip: Option<&str>, now: Millis) -> StoreResult<()> {
        sqlx::query(
            "UPDATE accounts SET last_login_ip = $2, last_login_at = lares_ts($3) WHERE id = $1",
        )
        .bind(id.0)
        .bind(ip)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn insert_session(&self, s: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, account_id, secret_hash, retired, generation, created_at, \
             expires_at, absolute_expires_at) \
             VALUES ($1, $2, $3, $4, $5, lares_ts($6), lares_ts($7), lares_ts($8))",
        )
        .bind(s.id.as_str())
        .bind(s.account.0)
        .bind(&s.current[..])
        .bind(encode_retired(&s.retired))
        .bind(s.generation)
        .bind(s.created_ms)
        .bind(s.expires_ms)
        .bind(s.absolute_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        const SQL: &str = concatcp!("SELECT ", SESSION_COLUMNS, " FROM sessions WHERE id = $1");
        let row: Option<SessionRow> = sqlx::query_as(SQL)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(Session::try_from).transpose()
    }

    async fn update_session(&self, s: &Session, expected_generation: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET secret_hash = $2, retired = $3, generation = $4, \
             expires_at = lares_ts($5), revoked_at = lares_ts($6), revoke_reason = $7 \
             WHERE id = $1 AND generation = $8 AND revoked_at IS NULL",
        )
        .bind(s.id.as_str())
        .bind(&s.current[..])
        .bind(encode_retired(&s.retired))
        .bind(s.generation)
        .bind(s.expires_ms)
        .bind(s.revoked.map(|r| r.at_ms))
        .bind(s.revoked.map(|r| r.reason.as_str()))
        .bind(expected_generation)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_session(
        &self,
        id: &SessionId,
        reason: RevokeReason,
        now: Millis,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = lares_ts($2), revoke_reason = $3 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id.as_str())
        .bind(now)
        .bind(reason.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_account_sessions(
        &self,
        id: AccountId,
        reason: RevokeReason,
        now: Millis,
    ) -> StoreResult<Vec<SessionId>> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "UPDATE sessions SET revoked_at = lares_ts($2), revoke_reason = $3 \
             WHERE account_id = $1 AND revoked_at IS NULL RETURNING id",
        )
        .bind(id.0)
        .bind(now)
        .bind(reason.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(ids
            .into_iter()
            .filter_map(|(id,)| SessionId::parse(&id))
            .collect())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
