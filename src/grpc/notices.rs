//! Notices over gRPC: the client list (`lares.notice.v1.NoticeInterface`) on the external
//! listener and the admin API (`lares.notice.admin.v1.NoticeAdmin`) on the internal one. Each
//! method checks the caller where it must, calls the one service operation, and maps the answer.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};

use super::admin::caller;
use super::status::to_status;
use crate::config::AdminRole;
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

    /// Runs one call, records it under `method`, and wraps its answer.
    async fn call<T>(
        &self,
        method: &'static str,
        work: impl Future<Output = Result<T, Status>>,
    ) -> Answer<T> {
        let started = Instant::now();
        let result = work.await;
        let outcome = match &result {
            Ok(_) => "OK".to_owned(),
            Err(status) => format!("{:?}", status.code()),
        };
        let elapsed = started.elapsed().as_secs_f64();
        self.metrics
            .observe("grpc", method, "POST", outcome, elapsed);
        result.map(Response::new)
    }
}

#[tonic::async_trait]
impl NoticeInterface for NoticeGrpc {
    async fn notice_list(
        &self,
        req: Request<pb::NoticeListRequest>,
    ) -> Answer<pb::NoticeListResponse> {
        let work = self.service.notice_list(req.into_inner());
        self.call("NoticeList", async { work.await.map_err(to_status) })
            .await
    }
}

#[tonic::async_trait]
impl NoticeAdmin for NoticeGrpc {
    async fn list_notices(
        &self,
        req: Request<admin::ListNoticesRequest>,
    ) -> Answer<admin::ListNoticesResponse> {
        self.call("ListNotices", async {
            let caller = caller(&req, &self.service, AdminRole::Viewer, "notice.list")?;
            let answer = self.service.list_notices(&caller, req.into_inner());
            answer.await.map_err(to_status)
        })
        .await
    }

    async fn get_notice(&self, req: Request<admin::GetNoticeRequest>) -> Answer<pb::Notice> {
        self.call("GetNotice", async {
            let caller = caller(&req, &self.service, AdminRole::Viewer, "notice.get")?;
            let answer = self.service.get_notice(&caller, req.into_inner());
            answer.await.map_err(to_status)
        })
        .await
    }

    async fn create_notice(&self, req: Request<admin::CreateNoticeRequest>) -> Answer<pb::Notice> {
        self.call("CreateNotice", async {
            let caller = caller(&req, &self.service, AdminRole::Operator, "notice.create")?;
            let answer = self.service.create_notice(&caller, req.into_inner());
            answer.await.map_err(to_status)
        })
        .await
    }

    async fn update_notice(&self, req: Request<admin::UpdateNoticeRequest>) -> Answer<pb::Notice> {
        self.call("UpdateNotice", async {
            let caller = caller(&req, &self.service, AdminRole::Operator, "notice.update")?;
            let answer = self.service.update_notice(&caller, req.into_inner());
            answer.await.map_err(to_status)
        })
        .await
    }

    async fn delete_notice(
        &self,
        req: Request<admin::DeleteNoticeRequest>,
    ) -> Answer<admin::DeleteNoticeResponse> {
        self.call("DeleteNotice", async {
            let caller = caller(&req, &self.service, AdminRole::Operator, "notice.delete")?;
            let answer = self.service.delete_notice(&caller, req.into_inner());
            answer.await.map_err(to_status)
        })
        .await
    }
}
