//! What the notice service reads and writes: the notices clients are shown, and the admin
//! pages over all of them. Every change commits together with its audit record.

use async_trait::async_trait;

use super::StoreResult;
use super::admin::AuditEntry;
use crate::domain::clock::Millis;
use crate::domain::notice::{Notice, NoticeFields, NoticeId};

/// Which notices an admin page holds: ids descending, below `before`.
#[derive(Debug, Clone, Default)]
pub struct NoticeQuery {
    /// Only this locale (canonical case; empty for the notices of every locale).
    pub locale: Option<String>,
    pub before: Option<NoticeId>,
    pub limit: u32,
}

#[async_trait]
pub trait NoticeStore: Send + Sync {
    /// The notices that have not ended at `now`, at most `limit`, in display order (highest
    /// `sort`, then latest start, then highest id).
    async fn upcoming_notices(&self, now: Millis, limit: u32) -> StoreResult<Vec<Notice>>;

    async fn notices(&self, query: &NoticeQuery) -> StoreResult<Vec<Notice>>;

    async fn notice(&self, id: NoticeId) -> StoreResult<Option<Notice>>;

    /// Creates a notice stamped `audit.at_ms` and appends `audit` in one transaction; the
    /// audit target is completed with the new id (`notice:` becomes `notice:7`).
    async fn create_notice(&self, fields: &NoticeFields, audit: &AuditEntry)
    -> StoreResult<Notice>;

    /// Replaces the fields of a notice and appends `audit` in one transaction; none (and
    /// nothing written) when it does not exist.
    async fn update_notice(
        &self,
        id: NoticeId,
        fields: &NoticeFields,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Notice>>;

    /// Deletes a notice and appends `audit` in one transaction; false (and nothing written)
    /// when it does not exist.
    async fn delete_notice(&self, id: NoticeId, audit: &AuditEntry) -> StoreResult<bool>;
}

/// Columns of a notice row, common to both stores.
#[derive(sqlx::FromRow)]
pub(super) struct NoticeRow {
    id: i64,
    title: String,
    content: String,
    sort: i32,
    start_ms: i64,
    end_ms: i64,
    locale: String,
    created_ms: i64,
    updated_ms: i64,
}

impl From<NoticeRow> for Notice {
    fn from(r: NoticeRow) -> Self {
        Notice {
            id: NoticeId(r.id),
            fields: NoticeFields {
                title: r.title,
                content: r.content,
                sort: r.sort,
                start_ms: r.start_ms,
                end_ms: r.end_ms,
                locale: r.locale,
            },
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        }
    }
}

/// Appends the filters, order and limit of an admin page.
pub(super) fn push_notice_filters<DB>(qb: &mut sqlx::QueryBuilder<DB>, q: &NoticeQuery)
where
    DB: sqlx::Database,
    for<'e> i64: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    for<'e> String: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    if let Some(locale) = &q.locale {
        qb.push(" AND locale = ").push_bind(locale.clone());
    }
    if let Some(before) = q.before {
        qb.push(" AND id < ").push_bind(before.0);
    }
    qb.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(q.limit));
}
