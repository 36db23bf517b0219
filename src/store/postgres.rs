//! The PostgreSQL store. Times are kept as `timestamptz` and converted with the `lares_ts` and
//! `lares_ms` SQL functions of the first migration.

mod admin;
mod notices;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use const_format::concatcp;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::StoreError;
use super::records::{AccountRow, IdentityAccountRow, SessionRow};
use super::{
    Account, Flush, IdentityAccount, IdentityRecord, NewAccount, NewIdentity, Store, StoreResult,
    Unlinked,
};
use crate::domain::clock::Millis;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{RevokeReason, Session, encode_retired};

const ACCOUNT_COLUMNS: &str = "id, zone, username, password_hash, default_color, status, \
    lares_ms(banned_until) AS banned_until_ms, lares_ms(created_at) AS created_ms";

/// [`ACCOUNT_COLUMNS`] for a query that names the accounts table `a`.
const ACCOUNT_COLUMNS_A: &str = "a.id, a.zone, a.username, a.password_hash, a.default_color, a.status, \
    lares_ms(a.banned_until) AS banned_until_ms, lares_ms(a.created_at) AS created_ms";

const SESSION_COLUMNS: &str = "id, account_id, secret_hash, retired, generation, epoch, \
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

    async fn account_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<Account>> {
        const SQL: &str = concatcp!(
            "SELECT ",
            ACCOUNT_COLUMNS,
            " FROM accounts WHERE id = \
             (SELECT account_id FROM identities WHERE provider = $1 AND subject = $2)"
        );
        let row: Option<AccountRow> = sqlx::query_as(SQL)
            .bind(provider)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Account::from))
    }

    async fn create_identity_accounts(
        &self,
        batch: &[NewIdentity],
    ) -> StoreResult<Vec<IdentityAccount>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT nextval(pg_get_serial_sequence('accounts', 'id')) FROM generate_series(1, $1)",
        )
        .bind(batch.len() as i64)
        .fetch_all(&mut *tx)
        .await?;
        let zones: Vec<i32> = batch.iter().map(|n| n.zone).collect();
        let times: Vec<i64> = batch.iter().map(|n| n.now_ms).collect();
        let ips: Vec<Option<String>> = batch.iter().map(|n| n.register_ip.clone()).collect();
        let providers: Vec<&str> = batch.iter().map(|n| n.provider.as_str()).collect();
        let subjects: Vec<&str> = batch.iter().map(|n| n.subject.as_str()).collect();
        sqlx::query(
            "INSERT INTO accounts (id, zone, created_at, updated_at, register_ip) \
             OVERRIDING SYSTEM VALUE \
             SELECT id, zone, lares_ts(t), lares_ts(t), ip \
             FROM unnest($1::int8[], $2::int4[], $3::int8[], $4::text[]) AS u(id, zone, t, ip)",
        )
        .bind(&ids)
        .bind(&zones)
        .bind(&times)
        .bind(&ips)
        .execute(&mut *tx)
        .await?;
        let won: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO identities (provider, subject, account_id, created_at) \
             SELECT provider, subject, id, lares_ts(t) \
             FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[]) \
             AS u(provider, subject, id, t) \
             ON CONFLICT DO NOTHING RETURNING account_id",
        )
        .bind(&providers)
        .bind(&subjects)
        .bind(&ids)
        .bind(&times)
        .fetch_all(&mut *tx)
        .await?;
        let won: HashSet<i64> = won.into_iter().collect();
        let lost: Vec<usize> = (0..batch.len())
            .filter(|&i| !won.contains(&ids[i]))
            .collect();
        let mut existing = HashMap::new();
        if !lost.is_empty() {
            // Identities registered first by another writer, or earlier in this batch: drop the
            // accounts made for them here and answer the existing ones.
            let orphans: Vec<i64> = lost.iter().map(|&i| ids[i]).collect();
            sqlx::query("DELETE FROM accounts WHERE id = ANY($1)")
                .bind(&orphans)
                .execute(&mut *tx)
                .await?;
            let lost_providers: Vec<&str> = lost.iter().map(|&i| providers[i]).collect();
            let lost_subjects: Vec<&str> = lost.iter().map(|&i| subjects[i]).collect();
            const SQL: &str = concatcp!(
                "SELECT i.provider, i.subject, ",
                ACCOUNT_COLUMNS_A,
                " FROM identities i \
                 JOIN accounts a ON a.id = i.account_id \
                 WHERE (i.provider, i.subject) IN \
                 (SELECT * FROM unnest($1::text[], $2::text[]))"
            );
            let rows: Vec<IdentityAccountRow> = sqlx::query_as(SQL)
                .bind(&lost_providers)
                .bind(&lost_subjects)
                .fetch_all(&mut *tx)
                .await?;
            existing.extend(
                rows.into_iter()
                    .map(|r| ((r.provider, r.subject), Account::from(r.account))),
            );
        }
        tx.commit().await?;
        let answer = batch.iter().zip(&ids).map(|(new, &id)| {
            if won.contains(&id) {
                let account = Account::new_guest(AccountId(id), new.zone, new.now_ms);
                return Ok(IdentityAccount {
                    account,
                    created: true,
                });
            }
            let key = (new.provider.clone(), new.subject.clone());
            let account = existing.get(&key).cloned();
            let account =
                account.ok_or_else(|| StoreError::Internal("identity vanished".into()))?;
            Ok(IdentityAccount {
                account,
                created: false,
            })
        });
        answer.collect()
    }

    async fn identities(&self, account: AccountId) -> StoreResult<Vec<IdentityRecord>> {
        // Byte order, as SQLite sorts.
        let rows: Vec<IdentityRecord> = sqlx::query_as(
            "SELECT provider, subject FROM identities WHERE account_id = $1 \
             ORDER BY provider COLLATE \"C\", subject COLLATE \"C\"",
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
        loop {
            let inserted = sqlx::query(
                "INSERT INTO identities (provider, subject, account_id, created_at) \
                 SELECT $1, $2, id, lares_ts($4) FROM accounts WHERE id = $3 \
                 ON CONFLICT DO NOTHING",
            )
            .bind(provider)
            .bind(subject)
            .bind(account.0)
            .bind(now)
            .execute(&self.pool)
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(true);
            }
            let owner: Option<i64> = sqlx::query_scalar(
                "SELECT account_id FROM identities WHERE provider = $1 AND subject = $2",
            )
            .bind(provider)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?;
            match owner {
                Some(owner) if owner == account.0 => return Ok(false),
                Some(_) => return Err(StoreError::Conflict),
                None => {
                    // Either the account does not exist, or the owner unlinked the identity
                    // since the insert: then it is free, and the insert is tried again.
                    let exists: bool =
                        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)")
                            .bind(account.0)
                            .fetch_one(&self.pool)
                            .await?;
                    if !exists {
                        return Err(StoreError::NotFound);
                    }
                }
            }
        }
    }

    /// The account row is locked first, so that unlinks of one account run one at a time.
    async fn unlink_identity(
        &self,
        account: AccountId,
        provider: &str,
        subject: Option<&str>,
    ) -> StoreResult<Unlinked> {
        let mut tx = self.pool.begin().await?;
        let has_password: Option<bool> = sqlx::query_scalar(
            "SELECT password_hash IS NOT NULL FROM accounts WHERE id = $1 FOR UPDATE",
        )
        .bind(account.0)
        .fetch_optional(&mut *tx)
        .await?;
        let has_password = has_password.ok_or(StoreError::NotFound)?;
        let mut removed: Vec<String> = sqlx::query_scalar(
            "DELETE FROM identities WHERE account_id = $1 AND provider = $2 \
             AND ($3::text IS NULL OR subject = $3) RETURNING subject",
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
                "SELECT EXISTS (SELECT 1 FROM identities WHERE account_id = $1)",
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

    async fn insert_session(&self, s: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, account_id, secret_hash, retired, generation, created_at, \
             expires_at, absolute_expires_at, epoch) \
             VALUES ($1, $2, $3, $4, $5, lares_ts($6), lares_ts($7), lares_ts($8), $9)",
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

    async fn register_nonce(
        &self,
        nonce: &str,
        account: AccountId,
        session: &SessionId,
        expires_ms: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO token_nonces (nonce, account_id, session_id, expires_at) \
             VALUES ($1, $2, $3, lares_ts($4)) ON CONFLICT (nonce) DO NOTHING",
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
             (SELECT nonce FROM token_nonces WHERE expires_at < now() LIMIT 100)",
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
            "DELETE FROM token_nonces WHERE nonce = $1 AND account_id = $2 \
             AND expires_at > lares_ts($3) RETURNING session_id",
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
            "UPDATE accounts SET session_epoch = GREATEST(session_epoch + 1, $2) \
             WHERE id = $1 RETURNING session_epoch",
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
            "UPDATE sessions SET revoked_at = lares_ts($3), revoke_reason = $4 \
             WHERE account_id = $1 AND epoch < $2 AND revoked_at IS NULL RETURNING id",
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
            "SELECT id FROM sessions WHERE account_id = $1 AND id <> $2 \
             AND revoked_at IS NULL AND expires_at > lares_ts($3)",
        )
        .bind(account.0)
        .bind(except.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.iter().filter_map(|id| SessionId::parse(id)).collect())
    }

    async fn flush(&self, batch: &Flush) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if !batch.sessions.is_empty() {
            let s = &batch.sessions;
            sqlx::query(
                "INSERT INTO sessions AS s (id, account_id, secret_hash, retired, generation, \
                 created_at, expires_at, absolute_expires_at, revoked_at, revoke_reason, epoch) \
                 SELECT id, acc, h, r, g, lares_ts(c), lares_ts(e), lares_ts(x), lares_ts(rv), rr, ep \
                 FROM unnest($1::text[], $2::int8[], $3::bytea[], $4::bytea[], $5::int8[], \
                 $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::text[], $11::int8[]) \
                 AS u(id, acc, h, r, g, c, e, x, rv, rr, ep) \
                 ON CONFLICT (id) DO UPDATE SET \
                 secret_hash = CASE WHEN EXCLUDED.generation > s.generation \
                     THEN EXCLUDED.secret_hash ELSE s.secret_hash END, \
                 retired = CASE WHEN EXCLUDED.generation > s.generation \
                     THEN EXCLUDED.retired ELSE s.retired END, \
                 expires_at = CASE WHEN EXCLUDED.generation > s.generation \
                     THEN EXCLUDED.expires_at ELSE s.expires_at END, \
                 generation = GREATEST(s.generation, EXCLUDED.generation), \
                 revoked_at = COALESCE(s.revoked_at, EXCLUDED.revoked_at), \
                 revoke_reason = COALESCE(s.revoke_reason, EXCLUDED.revoke_reason) \
                 WHERE EXCLUDED.generation > s.generation \
                    OR (s.revoked_at IS NULL AND EXCLUDED.revoked_at IS NOT NULL)",
            )
            .bind(
                s.iter()
                    .map(|x| x.id.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .bind(s.iter().map(|x| x.account.0).collect::<Vec<_>>())
            .bind(s.iter().map(|x| x.current.to_vec()).collect::<Vec<_>>())
            .bind(
                s.iter()
                    .map(|x| encode_retired(&x.retired))
                    .collect::<Vec<_>>(),
            )
            .bind(s.iter().map(|x| x.generation).collect::<Vec<_>>())
            .bind(s.iter().map(|x| x.created_ms).collect::<Vec<_>>())
            .bind(s.iter().map(|x| x.expires_ms).collect::<Vec<_>>())
            .bind(s.iter().map(|x| x.absolute_ms).collect::<Vec<_>>())
            .bind(
                s.iter()
                    .map(|x| x.revoked.map(|r| r.at_ms))
                    .collect::<Vec<_>>(),
            )
            .bind(
                s.iter()
                    .map(|x| x.revoked.map(|r| r.reason.as_str().to_owned()))
                    .collect::<Vec<_>>(),
            )
            .bind(s.iter().map(|x| x.epoch).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        if !batch.revocations.is_empty() {
            let r = &batch.revocations;
            sqlx::query(
                "UPDATE sessions s SET revoked_at = lares_ts(u.at), revoke_reason = u.reason \
                 FROM unnest($1::text[], $2::int8[], $3::text[]) AS u(id, at, reason) \
                 WHERE s.id = u.id AND s.revoked_at IS NULL",
            )
            .bind(
                r.iter()
                    .map(|(id, _)| id.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .bind(r.iter().map(|(_, x)| x.at_ms).collect::<Vec<_>>())
            .bind(r.iter().map(|(_, x)| x.reason.as_str()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        if !batch.logins.is_empty() {
            let l = &batch.logins;
            sqlx::query(
                "UPDATE accounts a SET last_login_at = lares_ts(u.t), last_login_ip = u.ip \
                 FROM unnest($1::int8[], $2::int8[], $3::text[]) AS u(id, t, ip) \
                 WHERE a.id = u.id AND (a.last_login_at IS NULL OR a.last_login_at < lares_ts(u.t))",
            )
            .bind(l.iter().map(|x| x.account.0).collect::<Vec<_>>())
            .bind(l.iter().map(|x| x.at_ms).collect::<Vec<_>>())
            .bind(l.iter().map(|x| x.ip.clone()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        if !batch.events.is_empty() {
            let e = &batch.events;
            sqlx::query(
                "INSERT INTO login_events (account_id, provider, ip, at) \
                 SELECT acc, p, ip, lares_ts(t) \
                 FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[]) AS u(acc, p, ip, t)",
            )
            .bind(e.iter().map(|x| x.account.0).collect::<Vec<_>>())
            .bind(e.iter().map(|x| x.provider).collect::<Vec<_>>())
            .bind(e.iter().map(|x| x.ip.clone()).collect::<Vec<_>>())
            .bind(e.iter().map(|x| x.at_ms).collect::<Vec<_>>())
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
