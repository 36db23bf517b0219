//! The embedded SQLite store: one file, write-ahead log, full sync so that an acknowledged write
//! survives a crash. Write transactions begin IMMEDIATE: SQLite has one writer, and a deferred
//! transaction that upgrades to writing would fail at once instead of waiting its turn. Times are
//! integer milliseconds.

mod admin;
mod notices;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use const_format::concatcp;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::records::{AccountRow, SessionRow};
use super::{
    Account, Flush, IdentityAccount, IdentityRecord, NewAccount, NewIdentity, Store, StoreError,
    StoreResult, Unlinked,
};
use crate::domain::clock::Millis;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{RevokeReason, Session, encode_retired};

const ACCOUNT_COLUMNS: &str = "id, zone, username, password_hash, default_color, status, \
    banned_until AS banned_until_ms, created_at AS created_ms";

const SESSION_COLUMNS: &str = "id, account_id, secret_hash, retired, generation, epoch, \
    created_at AS created_ms, expires_at AS expires_ms, absolute_expires_at AS absolute_ms, \
    revoked_at AS revoked_ms, revoke_reason";

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str, max_connections: u32, acquire: Duration) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(acquire);
        if let Some(dir) = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_account(&self, new: &NewAccount<'_>) -> StoreResult<Account> {
        const SQL: &str = concatcp!(
            "INSERT INTO accounts (zone, username, username_key, password_hash, created_at, \
             updated_at, register_ip) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) RETURNING ",
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
        const SQL: &str = concatcp!("SELECT ", ACCOUNT_COLUMNS, " FROM accounts WHERE id = ?1");
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
            " FROM accounts WHERE username_key = ?1"
        );
        let row: Option<AccountRow> = sqlx::query_as(SQL)
            .bind(username_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Account::from))
    }

    async fn account_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<Account>> {
        const SQL: &str = concatcp!(
            "SELECT ",
            ACCOUNT_COLUMNS,
            " FROM accounts WHERE id = \
             (SELECT account_id FROM identities WHERE provider = ?1 AND subject = ?2)"
        );
        let row: Option<AccountRow> = sqlx::query_as(SQL)
            .bind(provider)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Account::from))
    }

    /// One transaction; SQLite has a single writer, so each identity is looked up and, when
    /// new, inserted in turn without races.
    async fn create_identity_accounts(
        &self,
        batch: &[NewIdentity],
    ) -> StoreResult<Vec<IdentityAccount>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut answer = Vec::with_capacity(batch.len());
        for new in batch {
            const FIND: &str = concatcp!(
                "SELECT ",
                ACCOUNT_COLUMNS,
                " FROM accounts WHERE id = \
                 (SELECT account_id FROM identities WHERE provider = ?1 AND subject = ?2)"
            );
            let found: Option<AccountRow> = sqlx::query_as(FIND)
                .bind(&new.provider)
                .bind(&new.subject)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = found {
                answer.push(IdentityAccount {
                    account: row.into(),
                    created: false,
                });
                continue;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO accounts (zone, created_at, updated_at, register_ip) \
                 VALUES (?1, ?2, ?2, ?3) RETURNING id",
            )
            .bind(new.zone)
            .bind(new.now_ms)
            .bind(&new.register_ip)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO identities (provider, subject, account_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(&new.provider)
            .bind(&new.subject)
            .bind(id)
            .bind(new.now_ms)
            .execute(&mut *tx)
            .await?;
            let account = Account::new_guest(AccountId(id), new.zone, new.now_ms);
            answer.push(IdentityAccount {
                account,
                created: true,
            });
        }
        tx.commit().await?;
        Ok(answer)
    }

    async fn identities(&self, account: AccountId) -> StoreResult<Vec<IdentityRecord>> {
        let rows: Vec<IdentityRecord> = sqlx::query_as(
            "SELECT provider, subject FROM identities WHERE account_id = ?1 \
             ORDER BY provider, subject",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn link_identity(
        &self,
        account: AccountId,
        provider: &str,
        subject: &str,
        now: Millis,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO identities (provider, subject, account_id, created_at) \
             SELECT ?1, ?2, id, ?4 FROM accounts WHERE id = ?3 \
             ON CONFLICT DO NOTHING",
        )
        .bind(provider)
        .bind(subject)
        .bind(account.0)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(true);
        }
        let owner: Option<i64> = sqlx::query_scalar(
            "SELECT account_id FROM identities WHERE provider = ?1 AND subject = ?2",
        )
        .bind(provider)
        .bind(subject)
        .fetch_optional(&mut *tx)
        .await?;
        match owner {
            Some(owner) if owner == account.0 => Ok(false),
            Some(_) => Err(StoreError::Conflict),
            None => Err(StoreError::NotFound),
        }
    }

    async fn unlink_identity(
        &self,
        account: AccountId,
        provider: &str,
        subject: Option<&str>,
    ) -> StoreResult<Unlinked> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let has_password: Option<bool> =
            sqlx::query_scalar("SELECT password_hash IS NOT NULL FROM accounts WHERE id = ?1")
                .bind(account.0)
                .fetch_optional(&mut *tx)
                .await?;
        let has_password = has_password.ok_or(StoreError::NotFound)?;
        let mut removed: Vec<String> = sqlx::query_scalar(
            "DELETE FROM identities WHERE account_id = ?1 AND provider = ?2 \
             AND (?3 IS NULL OR subject = ?3) RETURNING subject",
        )
        .bind(account.0)
        .bind(provider)
        .bind(subject)
        .fetch_all(&mut *tx)
        .await?;
        if removed.is_empty() {
            return Ok(Unlinked::NotLinked);
        }
        if !has_password {
            let others: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM identities WHERE account_id = ?1)",
            )
            .bind(account.0)
            .fetch_one(&mut *tx)
            .await?;
            if !others {
                tx.rollback().await?;
                return Ok(Unlinked::LastWayIn);
            }
        }
        tx.commit().await?;
        removed.sort_unstable();
        Ok(Unlinked::Removed(removed))
    }

    async fn set_password_hash(&self, id: AccountId, hash: &str, now: Millis) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET password_hash = ?2, updated_at = ?3 WHERE id = ?1")
            .bind(id.0)
            .bind(hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_session(&self, s: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, account_id, secret_hash, retired, generation, created_at, \
             expires_at, absolute_expires_at, epoch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(s.id.as_str())
        .bind(s.account.0)
        .bind(&s.current[..])
        .bind(encode_retired(&s.retired))
        .bind(s.generation)
        .bind(s.created_ms)
        .bind(s.expires_ms)
        .bind(s.absolute_ms)
        .bind(s.epoch)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        const SQL: &str = concatcp!("SELECT ", SESSION_COLUMNS, " FROM sessions WHERE id = ?1");
        let row: Option<SessionRow> = sqlx::query_as(SQL)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(Session::try_from).transpose()
    }

    async fn update_session(&self, s: &Session, expected_generation: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET secret_hash = ?2, retired = ?3, generation = ?4, expires_at = ?5, \
             revoked_at = ?6, revoke_reason = ?7 \
             WHERE id = ?1 AND generation = ?8 AND revoked_at IS NULL",
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
            "UPDATE sessions SET revoked_at = ?2, revoke_reason = ?3 \
             WHERE id = ?1 AND revoked_at IS NULL",
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
            "UPDATE sessions SET revoked_at = ?2, revoke_reason = ?3 \
             WHERE account_id = ?1 AND revoked_at IS NULL RETURNING id",
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

    async fn register_nonce(
        &self,
        nonce: &str,
        account: AccountId,
        session: &SessionId,
        expires_ms: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO token_nonces (nonce, account_id, session_id, expires_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (nonce) DO NOTHING",
        )
        .bind(nonce)
        .bind(account.0)
        .bind(session.as_str())
        .bind(expires_ms)
        .execute(&self.pool)
        .await?;
        // Keep the table small: expired nonces can never be consumed.
        sqlx::query(
            "DELETE FROM token_nonces WHERE nonce IN \
             (SELECT nonce FROM token_nonces WHERE expires_at < CAST(strftime('%s', 'now') AS INTEGER) * 1000 LIMIT 100)",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn consume_nonce(
        &self,
        nonce: &str,
        account: AccountId,
        now: Millis,
    ) -> StoreResult<Option<SessionId>> {
        let taken: Option<String> = sqlx::query_scalar(
            "DELETE FROM token_nonces WHERE nonce = ?1 AND account_id = ?2 \
             AND expires_at > ?3 RETURNING session_id",
        )
        .bind(nonce)
        .bind(account.0)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(taken.and_then(|id| SessionId::parse(&id)))
    }

    async fn next_epoch(&self, account: AccountId, now: Millis) -> StoreResult<i64> {
        let epoch: Option<i64> = sqlx::query_scalar(
            "UPDATE accounts SET session_epoch = MAX(session_epoch + 1, ?2) \
             WHERE id = ?1 RETURNING session_epoch",
        )
        .bind(account.0)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        epoch.ok_or_else(|| StoreError::Internal(format!("account {account} vanished")))
    }

    async fn revoke_older(
        &self,
        account: AccountId,
        epoch: i64,
        reason: RevokeReason,
        now: Millis,
    ) -> StoreResult<Vec<SessionId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE sessions SET revoked_at = ?3, revoke_reason = ?4 \
             WHERE account_id = ?1 AND epoch < ?2 AND revoked_at IS NULL RETURNING id",
        )
        .bind(account.0)
        .bind(epoch)
        .bind(now)
        .bind(reason.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.iter().filter_map(|id| SessionId::parse(id)).collect())
    }

    async fn other_live(
        &self,
        account: AccountId,
        except: &SessionId,
        now: Millis,
    ) -> StoreResult<Vec<SessionId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE account_id = ?1 AND id <> ?2 \
             AND revoked_at IS NULL AND expires_at > ?3",
        )
        .bind(account.0)
        .bind(except.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.iter().filter_map(|id| SessionId::parse(id)).collect())
    }

    async fn flush(&self, batch: &Flush) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for x in &batch.sessions {
            sqlx::query(
                "INSERT INTO sessions AS s (id, account_id, secret_hash, retired, generation, \
                 created_at, expires_at, absolute_expires_at, revoked_at, revoke_reason, epoch) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (id) DO UPDATE SET \
                 secret_hash = CASE WHEN excluded.generation > s.generation \
                     THEN excluded.secret_hash ELSE s.secret_hash END, \
                 retired = CASE WHEN excluded.generation > s.generation \
                     THEN excluded.retired ELSE s.retired END, \
                 expires_at = CASE WHEN excluded.generation > s.generation \
                     THEN excluded.expires_at ELSE s.expires_at END, \
                 generation = MAX(s.generation, excluded.generation), \
                 revoked_at = COALESCE(s.revoked_at, excluded.revoked_at), \
                 revoke_reason = COALESCE(s.revoke_reason, excluded.revoke_reason) \
                 WHERE excluded.generation > s.generation \
                    OR (s.revoked_at IS NULL AND excluded.revoked_at IS NOT NULL)",
            )
            .bind(x.id.as_str())
            .bind(x.account.0)
            .bind(&x.current[..])
            .bind(encode_retired(&x.retired))
            .bind(x.generation)
            .bind(x.created_ms)
            .bind(x.expires_ms)
            .bind(x.absolute_ms)
            .bind(x.revoked.map(|r| r.at_ms))
            .bind(x.revoked.map(|r| r.reason.as_str()))
            .bind(x.epoch)
            .execute(&mut *tx)
            .await?;
        }
        for (id, r) in &batch.revocations {
            sqlx::query(
                "UPDATE sessions SET revoked_at = ?2, revoke_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
            )
            .bind(id.as_str())
            .bind(r.at_ms)
            .bind(r.reason.as_str())
            .execute(&mut *tx)
            .await?;
        }
        for x in &batch.logins {
            sqlx::query(
                "UPDATE accounts SET last_login_at = ?2, last_login_ip = ?3 \
                 WHERE id = ?1 AND (last_login_at IS NULL OR last_login_at < ?2)",
            )
            .bind(x.account.0)
            .bind(x.at_ms)
            .bind(&x.ip)
            .execute(&mut *tx)
            .await?;
        }
        for x in &batch.events {
            sqlx::query(
                "INSERT INTO login_events (account_id, provider, ip, at) VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(x.account.0)
            .bind(x.provider)
            .bind(&x.ip)
            .bind(x.at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
