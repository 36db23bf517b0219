//! Notices over gRPC: the client list (`lares.notice.v1.NoticeInterface`) on the external
//! listener and the admin API (`lares.notice.admin.v1.NoticeAdmin`) on the internal one. Each
//! method checks the caller where it must, calls the one service operation, and maps the answer.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::admin::auth;
use super::observed;
use crate::config::AdminRole::{self, Operator, Viewer};
use crate::domain::admin::Caller;
use crate::proto::notice as pb;
use crate::proto::notice::notice_interface_server::NoticeInterface;
use crate::proto::notice_admin as admin;
use crate::proto::notice_admin::notice_admin_server::NoticeAdmin;
use crate::service::Service;
use crate::telemetry::Metrics;

type Answer<T> = Result<Response<T>, Status>;

/// Both notice services: the same service and metrics behind each.
pub struct NoticeGrpc {
    service: Service,
    metrics: Arc<Metrics>,
}

impl NoticeGrpc {
    pub fn new(service: Service, metrics: Arc<Metrics>) -> Self {
        NoticeGrpc { service, metrics }
    }

    /// The caller of an admin call, checked against `need` before anything else is done.
    fn caller<T>(
        &self,
        req: &Request<T>,
        need: AdminRole,
        method: &'static str,
    ) -> crate::domain::Result<Caller> {
        self.service.admin(auth(req), need, method)
    }
}

#[tonic::async_trait]
impl NoticeInterface for NoticeGrpc {
    async fn notice_list(
        &self,
        req: Request<pb::NoticeListRequest>,
    ) -> Answer<pb::NoticeListResponse> {
        let work = self.service.notice_list(req.into_inner());
        observed(&self.metrics, "NoticeList", work).await
    }
}

#[tonic::async_trait]
impl NoticeAdmin for NoticeGrpc {
    async fn list_notices(
        &self,
        req: Request<admin::ListNoticesRequest>,
    ) -> Answer<admin::ListNoticesResponse> {
        let checked = self.caller(&req, Viewer, "ListNotices");
        observed(&self.metrics, "ListNotices", async {
            let caller = checked?;
            self.service.list_notices(&caller, req.into_inner()).await
        })
        .await
    }

    async fn get_notice(&self, req: Request<admin::GetNoticeRequest>) -> Answer<pb::Notice> {
        let checked = self.caller(&req, Viewer, "GetNotice");
        observed(&self.metrics, "GetNotice", async {
            let caller = checked?;
            self.service.get_notice(&caller, req.into_inner()).await
        })
        .await
    }

    async fn create_notice(&self, req: Request<admin::CreateNoticeRequest>) -> Answer<pb::Notice> {
        let checked = self.caller(&req, Operator, "CreateNotice");
        observed(&self.metrics, "CreateNotice", async {
            let caller = checked?;
            self.service.create_notice(&caller, req.into_inner()).await
        })
        .await
    }

    async fn update_notice(&self, req: Request<admin::UpdateNoticeRequest>) -> Answer<pb::Notice> {
        let checked = self.caller(&req, Operator, "UpdateNotice");
        observed(&self.metrics, "UpdateNotice", async {
            let caller = checked?;
            self.service.update_notice(&caller, req.into_inner()).await
        })
        .await
    }

    async fn delete_notice(
        &self,
        req: Request<admin::DeleteNoticeRequest>,
    ) -> Answer<admin::DeleteNoticeResponse> {
        let checked = self.caller(&req, Operator, "DeleteNotice");
        observed(&self.metrics, "DeleteNotice", async {
            let caller = checked?;
            self.service.delete_notice(&caller, req.into_inner()).await
        })
        .await
    }
}
