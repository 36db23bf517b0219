//! The notice queries on PostgreSQL.

use async_trait::async_trait;
use const_format::concatcp;
use sqlx::{Postgres, QueryBuilder};

use super::PgStore;
use super::admin::insert_audit;
use crate::domain::clock::Millis;
use crate::domain::notice::{Notice, NoticeFields, NoticeId};
use crate::store::StoreResult;
use crate::store::admin::AuditEntry;
use crate::store::notices::{NoticeQuery, NoticeRow, NoticeStore, push_notice_filters};

const COLUMNS: &str = "id, title, content, sort, lares_ms(start_at) AS start_ms, \
    lares_ms(end_at) AS end_ms, locale, lares_ms(created_at) AS created_ms, \
    lares_ms(updated_at) AS updated_ms";

#[async_trait]
impl NoticeStore for PgStore {
    async fn upcoming_notices(&self, now: Millis, limit: u32) -> StoreResult<Vec<Notice>> {
        const SQL: &str = concatcp!(
            "SELECT ",
            COLUMNS,
            " FROM notices WHERE end_at > lares_ts($1) \
             ORDER BY sort DESC, start_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<NoticeRow> = sqlx::query_as(SQL)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Notice::from).collect())
    }

    async fn notices(&self, q: &NoticeQuery) -> StoreResult<Vec<Notice>> {
        let mut qb = QueryBuilder::<Postgres>::new(concatcp!(
            "SELECT ",
            COLUMNS,
            " FROM notices WHERE TRUE"
        ));
        push_notice_filters(&mut qb, q);
        let rows: Vec<NoticeRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Notice::from).collect())
    }

    async fn notice(&self, id: NoticeId) -> StoreResult<Option<Notice>> {
        const SQL: &str = concatcp!("SELECT ", COLUMNS, " FROM notices WHERE id = $1");
        let row: Option<NoticeRow> = sqlx::query_as(SQL)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Notice::from))
    }

    async fn create_notice(
        &self,
        fields: &NoticeFields,
        audit: &AuditEntry,
    ) -> StoreResult<Notice> {
        const SQL: &str = concatcp!(
            "INSERT INTO notices (title, content, sort, start_at, end_at, locale, created_at, \
             updated_at) VALUES ($1, $2, $3, lares_ts($4), lares_ts($5), $6, lares_ts($7), \
             lares_ts($7)) RETURNING ",
            COLUMNS
        );
        let mut tx = self.pool.begin().await?;
        let row: NoticeRow = bind_fields(sqlx::query_as(SQL), fields)
            .bind(audit.at_ms)
            .fetch_one(&mut *tx)
            .await?;
        let notice = Notice::from(row);
        let target = format!("{}{}", audit.target, notice.id);
        insert_audit(&mut *tx, audit, &target).await?;
        tx.commit().await?;
        Ok(notice)
    }

    async fn update_notice(
        &self,
        id: NoticeId,
        fields: &NoticeFields,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Notice>> {
        const SQL: &str = concatcp!(
            "UPDATE notices SET title = $1, content = $2, sort = $3, start_at = lares_ts($4), \
             end_at = lares_ts($5), locale = $6, updated_at = lares_ts($7) WHERE id = $8 \
             RETURNING ",
            COLUMNS
        );
        let mut tx = self.pool.begin().await?;
        let row: Option<NoticeRow> = bind_fields(sqlx::query_as(SQL), fields)
            .bind(audit.at_ms)
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        insert_audit(&mut *tx, audit, &audit.target).await?;
        tx.commit().await?;
        Ok(Some(row.into()))
    }

    async fn delete_notice(&self, id: NoticeId, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM notices WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        insert_audit(&mut *tx, audit, &audit.target).await?;
        tx.commit().await?;
        Ok(true)
    }
}

type PgQueryAs<'q> = sqlx::query::QueryAs<'q, Postgres, NoticeRow, sqlx::postgres::PgArguments>;

/// Binds the six fields, in column order, as `$1` to `$6`.
fn bind_fields<'q>(query: PgQueryAs<'q>, f: &'q NoticeFields) -> PgQueryAs<'q> {
    query
        .bind(&f.title)
        .bind(&f.content)
        .bind(f.sort)
        .bind(f.start_ms)
        .bind(f.end_ms)
        .bind(&f.locale)
}
