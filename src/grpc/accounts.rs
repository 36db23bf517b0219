//! The client API over gRPC (`lares.account.v1.AccountInterface`). Each method decodes, calls the
//! one service operation, and maps the answer.

use std::future::Future;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::domain::Result;
use crate::proto::account as pb;
use crate::proto::account::account_interface_server::AccountInterface;
use crate::service::{RequestMeta, Service};
use crate::telemetry::Metrics;

pub struct AccountGrpc {
    service: Service,
    metrics: Arc<Metrics>,
}

impl AccountGrpc {
    pub fn new(service: Service, metrics: Arc<Metrics>) -> Self {
        AccountGrpc { service, metrics }
    }

    /// Runs one operation, records it, and maps its answer.
    async fn call<T>(
        &self,
        method: &'static str,
        work: impl Future<Output = Result<T>>,
    ) -> std::result::Result<Response<T>, Status> {
        super::observed(&self.metrics, method, work).await
    }
}

fn meta<T>(req: &Request<T>) -> RequestMeta {
    RequestMeta {
        ip: req.remote_addr().map(|a| a.ip()),
    }
}

type Answer<T> = std::result::Result<Response<T>, Status>;

#[tonic::async_trait]
impl AccountInterface for AccountGrpc {
    async fn dev_ping(&self, req: Request<pb::DevPingRequest>) -> Answer<pb::DevPingResponse> {
        self.call("DevPing", self.service.dev_ping(req.into_inner()))
            .await
    }

    async fn username_register(
        &self,
        req: Request<pb::UsernameRegisterRequest>,
    ) -> Answer<pb::LoginInfo> {
        let meta = meta(&req);
        self.call(
            "UsernameRegister",
            self.service.username_register(req.into_inner(), &meta),
        )
        .await
    }

    async fn username_login(
        &self,
        req: Request<pb::UsernameLoginRequest>,
    ) -> Answer<pb::LoginInfo> {
        let meta = meta(&req);
        self.call(
            "UsernameLogin",
            self.service.username_login(req.into_inner(), &meta),
        )
        .await
    }

    async fn device_login(&self, req: Request<pb::DeviceLoginRequest>) -> Answer<pb::LoginInfo> {
        let meta = meta(&req);
        self.call(
            "DeviceLogin",
            self.service.device_login(req.into_inner(), &meta),
        )
        .await
    }

    async fn apple_login(&self, req: Request<pb::AppleLoginRequest>) -> Answer<pb::LoginInfo> {
        let meta = meta(&req);
        self.call(
            "AppleLogin",
            self.service.apple_login(req.into_inner(), &meta),
        )
        .await
    }

    async fn apple_login_callback(
        &self,
        req: Request<pb::AppleLoginCallbackRequest>,
    ) -> Answer<pb::AppleLoginCallbackResponse> {
        let meta = meta(&req);
        self.call(
            "AppleLoginCallback",
            self.service.apple_login_callback(req.into_inner(), &meta),
        )
        .await
    }

    async fn google_login(&self, req: Request<pb::GoogleLoginRequest>) -> Answer<pb::LoginInfo> {
        let meta = meta(&req);
        self.call(
            "GoogleLogin",
            self.service.google_login(req.into_inner(), &meta),
        )
        .await
    }

    async fn facebook_login(
        &self,
        req: Request<pb::FacebookLoginRequest>,
    ) -> Answer<pb::LoginInfo> {
        let meta = meta(&req);
        self.call(
            "FacebookLogin",
            self.service.facebook_login(req.into_inner(), &meta),
        )
        .await
    }

    async fn refresh(&self, req: Request<pb::RefreshRequest>) -> Answer<pb::RefreshResponse> {
        self.call("Refresh", self.service.refresh(req.into_inner()))
            .await
    }

    async fn token(&self, req: Request<pb::TokenRequest>) -> Answer<pb::TokenResponse> {
        self.call("Token", self.service.token(req.into_inner()))
            .await
    }

    async fn logout(&self, req: Request<pb::LogoutRequest>) -> Answer<pb::LogoutResponse> {
        self.call("Logout", self.service.logout(req.into_inner()))
            .await
    }

    async fn link(&self, req: Request<pb::LinkRequest>) -> Answer<pb::LinkResponse> {
        self.call("Link", self.service.link(req.into_inner())).await
    }

    async fn unlink(&self, req: Request<pb::UnlinkRequest>) -> Answer<pb::LinkResponse> {
        self.call("Unlink", self.service.unlink(req.into_inner()))
            .await
    }
}
