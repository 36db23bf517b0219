//! Admin gRPC on the internal listener (`lares.account.admin.v1.AccountAdmin`), and account
//! lookups for game servers (`lares.account.v1.AccountService`). Admin calls carry their key in
//! the `authorization` metadata (`Bearer <key>`); reads need the viewer role, changes the
//! operator role.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::observed;
use crate::config::AdminRole;
use crate::domain::admin::Caller;
use crate::proto::account as client;
use crate::proto::account::account_service_server::AccountService;
use crate::proto::account_admin as pb;
use crate::proto::account_admin::account_admin_server::AccountAdmin;
use crate::service::Service;
use crate::telemetry::Metrics;

type Answer<T> = std::result::Result<Response<T>, Status>;

pub struct AdminGrpc {
    service: Service,
    metrics: Arc<Metrics>,
}

impl AdminGrpc {
    pub fn new(service: Service, metrics: Arc<Metrics>) -> Self {
        AdminGrpc { service, metrics }
    }

    /// Checks the caller for `need`, then runs `work` with it; records the call either way.
    async fn call<Req, T, F, Fut>(
        &self,
        method: &'static str,
        need: AdminRole,
        req: Request<Req>,
        work: F,
    ) -> Answer<T>
    where
        F: FnOnce(Service, Caller, Req) -> Fut,
        Fut: Future<Output = crate::domain::Result<T>>,
    {
        let service = self.service.clone();
        let checked = service.admin(auth(&req), need, method);
        observed(&self.metrics, method, async move {
            let who = checked?;
            work(service, who, req.into_inner()).await
        })
        .await
    }
}

/// The `authorization` metadata of a call, if it is text.
pub(crate) fn auth<T>(req: &Request<T>) -> Option<&str> {
    req.metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
}

use AdminRole::{Operator, Viewer};

#[tonic::async_trait]
impl AccountAdmin for AdminGrpc {
    async fn list_accounts(
        &self,
        req: Request<pb::ListAccountsRequest>,
    ) -> Answer<pb::ListAccountsResponse> {
        self.call(
            "AccountAdmin/ListAccounts",
            Viewer,
            req,
            |s, _, r| async move { s.admin_list_accounts(r).await },
        )
        .await
    }

    async fn get_account(&self, req: Request<pb::GetAccountRequest>) -> Answer<pb::AccountView> {
        self.call(
            "AccountAdmin/GetAccount",
            Viewer,
            req,
            |s, _, r| async move { s.admin_get_account(r).await },
        )
        .await
    }

    async fn ban_account(&self, req: Request<pb::BanAccountRequest>) -> Answer<pb::AdminAccount> {
        self.call(
            "AccountAdmin/BanAccount",
            Operator,
            req,
            |s, c, r| async move { s.admin_ban(&c, r).await },
        )
        .await
    }

    async fn unban_account(
        &self,
        req: Request<pb::UnbanAccountRequest>,
    ) -> Answer<pb::AdminAccount> {
        self.call(
            "AccountAdmin/UnbanAccount",
            Operator,
            req,
            |s, c, r| async move { s.admin_unban(&c, r).await },
        )
        .await
    }

    async fn logout_sessions(
        &self,
        req: Request<pb::LogoutSessionsRequest>,
    ) -> Answer<pb::LogoutSessionsResponse> {
        self.call(
            "AccountAdmin/LogoutSessions",
            Operator,
            req,
            |s, c, r| async move { s.admin_logout(&c, r).await },
        )
        .await
    }

    async fn reset_password(
        &self,
        req: Request<pb::ResetPasswordRequest>,
    ) -> Answer<pb::ResetPasswordResponse> {
        self.call(
            "AccountAdmin/ResetPassword",
            Operator,
            req,
            |s, c, r| async move { s.admin_reset_password(&c, r).await },
        )
        .await
    }

    async fn set_default_color(
        &self,
        req: Request<pb::SetDefaultColorRequest>,
    ) -> Answer<pb::AdminAccount> {
        self.call(
            "AccountAdmin/SetDefaultColor",
            Operator,
            req,
            |s, c, r| async move { s.admin_set_color(&c, r).await },
        )
        .await
    }

    async fn list_login_events(
        &self,
        req: Request<pb::ListLoginEventsRequest>,
    ) -> Answer<pb::ListLoginEventsResponse> {
        self.call(
            "AccountAdmin/ListLoginEvents",
            Viewer,
            req,
            |s, _, r| async move { s.admin_login_events(r).await },
        )
        .await
    }

    async fn list_audit_log(
        &self,
        req: Request<pb::ListAuditLogRequest>,
    ) -> Answer<pb::ListAuditLogResponse> {
        self.call(
            "AccountAdmin/ListAuditLog",
            Viewer,
            req,
            |s, _, r| async move { s.admin_audit_log(r).await },
        )
        .await
    }
}

/// Account lookups for game servers.
pub struct AccountLookupGrpc {
    service: Service,
    metrics: Arc<Metrics>,
}

impl AccountLookupGrpc {
    pub fn new(service: Service, metrics: Arc<Metrics>) -> Self {
        AccountLookupGrpc { service, metrics }
    }
}

#[tonic::async_trait]
impl AccountService for AccountLookupGrpc {
    async fn get_account(
        &self,
        req: Request<client::GetAccountRequest>,
    ) -> Answer<client::AccountRecord> {
        let work = self.service.account_record(req.into_inner());
        observed(&self.metrics, "AccountService/GetAccount", work).await
    }

    async fn get_accounts(
        &self,
        req: Request<client::GetAccountsRequest>,
    ) -> Answer<client::GetAccountsResponse> {
        let ids = req.into_inner().ids;
        let work = async move {
            let accounts = self.service.account_records(&ids).await?;
            Ok(client::GetAccountsResponse { accounts })
        };
        observed(&self.metrics, "AccountService/GetAccounts", work).await
    }
}
