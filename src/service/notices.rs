//! Notices: the client list, answered from the board in memory, and the admin calls, which
//! change the store (with their audit record) and then reload the board.

use serde_json::json;

use super::Service;
use crate::domain::admin::Caller;
use crate::domain::notice::{self, Notice, NoticeFields, NoticeId};
use crate::domain::{Error, Result};
use crate::proto::notice as pb;
use crate::proto::notice_admin as admin;
use crate::store::Store;
use crate::store::admin::AuditEntry;
use crate::store::notices::NoticeQuery;

impl Service {
    /// The notices a client shows now. Never reads the store.
    pub async fn notice_list(&self, req: pb::NoticeListRequest) -> Result<pb::NoticeListResponse> {
        let locale = notice::client_locale(&req.locale)?;
        let held = self.inner.notices.held();
        let now = self.inner.deps.clock.now_ms();
        let chosen = notice::for_client(&held, now, &locale);
        Ok(pb::NoticeListResponse {
            notices: chosen.into_iter().map(to_pb).collect(),
        })
    }

    /// A page of every notice, newest first. Taking the `Caller` proves the call was let in.
    pub async fn list_notices(
        &self,
        _caller: &Caller,
        req: admin::ListNoticesRequest,
    ) -> Result<admin::ListNoticesResponse> {
        let size = notice::page_size(req.page_size)?;
        let before = notice::parse_page_token(&req.page_token)?;
        let locale = req.locale.as_deref().map(notice::locale).transpose()?;
        let query = NoticeQuery {
            locale,
            before,
            limit: size + 1,
        };
        let mut page = self.notice_store().notices(&query).await?;
        let mut next_page_token = String::new();
        if page.len() > size as usize {
            page.truncate(size as usize);
            next_page_token = page
                .last()
                .map(|n| notice::page_token(n.id))
                .unwrap_or_default();
        }
        Ok(admin::ListNoticesResponse {
            notices: page.iter().map(to_pb).collect(),
            next_page_token,
        })
    }

    pub async fn get_notice(
        &self,
        _caller: &Caller,
        req: admin::GetNoticeRequest,
    ) -> Result<pb::Notice> {
        let id = NoticeId::parse(req.id)?;
        let found = self.notice_store().notice(id).await?;
        found.as_ref().map(to_pb).ok_or_else(no_such_notice)
    }

    pub async fn create_notice(
        &self,
        caller: &Caller,
        req: admin::CreateNoticeRequest,
    ) -> Result<pb::Notice> {
        let fields = NoticeFields {
            title: req.title,
            content: req.content,
            sort: req.sort,
            start_ms: req.start,
            end_ms: req.end,
            locale: req.locale,
        }
        .checked()?;
        // The store completes the target with the new id.
        let mut audit =
            self.audit_entry(caller, "notice.create", "notice:".into(), detail(&fields));
        let created = self.notice_store().create_notice(&fields, &audit).await?;
        audit.target = format!("notice:{}", created.id);
        self.notices_changed(&audit).await;
        Ok(to_pb(&created))
    }

    /// Replaces every field of a notice.
    pub async fn update_notice(
        &self,
        caller: &Caller,
        req: admin::UpdateNoticeRequest,
    ) -> Result<pb::Notice> {
        let id = NoticeId::parse(req.id)?;
        let fields = NoticeFields {
            title: req.title,
            content: req.content,
            sort: req.sort,
            start_ms: req.start,
            end_ms: req.end,
            locale: req.locale,
        }
        .checked()?;
        let audit = self.audit_entry(caller, "notice.update", target(id), detail(&fields));
        let updated = self.notice_store().update_notice(id, &fields, &audit);
        let updated = updated.await?.ok_or_else(no_such_notice)?;
        self.notices_changed(&audit).await;
        Ok(to_pb(&updated))
    }

    pub async fn delete_notice(
        &self,
        caller: &Caller,
        req: admin::DeleteNoticeRequest,
    ) -> Result<admin::DeleteNoticeResponse> {
        let id = NoticeId::parse(req.id)?;
        let audit = self.audit_entry(caller, "notice.delete", target(id), json!({}));
        if !self.notice_store().delete_notice(id, &audit).await? {
            return Err(no_such_notice());
        }
        self.notices_changed(&audit).await;
        Ok(admin::DeleteNoticeResponse {})
    }

    fn notice_store(&self) -> &dyn Store {
        self.inner.deps.data.store().as_ref()
    }

    /// After a committed change: logs it, tells the other nodes and reloads the board, so this
    /// node's clients see it at once. A failed reload leaves the old board until the next one.
    async fn notices_changed(&self, audit: &AuditEntry) {
        tracing::info!(
            target: "lares::audit", actor = %audit.actor, action = %audit.action,
            target_id = %audit.target, "admin action"
        );
        self.inner.notices.changed().await;
    }
}

fn target(id: NoticeId) -> String {
    format!("notice:{id}")
}

/// What the audit log keeps of a change: the fields, but only the size of the content.
fn detail(f: &NoticeFields) -> serde_json::Value {
    json!({
        "title": f.title,
        "locale": f.locale,
        "sort": f.sort,
        "start": f.start_ms,
        "end": f.end_ms,
        "contentBytes": f.content.len(),
    })
}

fn no_such_notice() -> Error {
    Error::not_found("no notice with this id")
}

fn to_pb(n: &Notice) -> pb::Notice {
    pb::Notice {
        id: n.id.0,
        title: n.fields.title.clone(),
        content: n.fields.content.clone(),
        sort: n.fields.sort,
        start: n.fields.start_ms,
        end: n.fields.end_ms,
        locale: n.fields.locale.clone(),
        created: n.created_ms,
        updated: n.updated_ms,
    }
}
