//! The gRPC edge (tonic): the client API and notices on the external listener; the gateway
//! service, the notice admin API, gRPC health and reflection on the internal one. Messages over
//! the configured limit, or that do not decode, are refused with `INVALID_ARGUMENT`.

pub mod accounts;
pub mod admin;
pub mod gate;
pub mod notices;
pub mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tonic::body::Body;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tower::util::MapResponseLayer;

use self::accounts::AccountGrpc;
use self::admin::{AccountLookupGrpc, AdminGrpc};
use self::gate::GateGrpc;
use self::notices::NoticeGrpc;
use crate::domain::{Error, Reason};
use crate::proto::account::account_interface_server::AccountInterfaceServer;
use crate::proto::account::account_service_server::AccountServiceServer;
use crate::proto::account_admin::account_admin_server::AccountAdminServer;
use crate::proto::notice::notice_interface_server::NoticeInterfaceServer;
use crate::proto::notice_admin::notice_admin_server::NoticeAdminServer;
use crate::proto::validator::token_validator_server::TokenValidatorServer;
use crate::service::Service;
use crate::telemetry::Metrics;

/// What the gRPC servers are built from.
#[derive(Clone)]
pub struct GrpcParts {
    pub service: Service,
    pub metrics: Arc<Metrics>,
    pub message_limit: usize,
    pub subscriber_buffer: usize,
    pub slow_subscriber: Duration,
}

/// Serves the client API and notices until `shutdown` completes, then drains in-flight calls.
pub async fn serve_external(
    parts: GrpcParts,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let limit = parts.message_limit;
    let notices = NoticeGrpc::new(parts.service.clone(), parts.metrics.clone());
    let notices = NoticeInterfaceServer::new(notices).max_decoding_message_size(limit);
    let accounts = AccountInterfaceServer::new(AccountGrpc::new(parts.service, parts.metrics))
        .max_decoding_message_size(limit);
    builder()
        .layer(MapResponseLayer::new(bad_input_is_invalid_argument))
        .add_service(accounts)
        .add_service(notices)
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await
}

/// Serves the gateway service, the notice admin API, gRPC health (`grpc.health.v1`) and
/// reflection until `shutdown` completes.
pub async fn serve_internal(
    parts: GrpcParts,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let notice_admin = NoticeGrpc::new(parts.service.clone(), parts.metrics.clone());
    let notice_admin =
        NoticeAdminServer::new(notice_admin).max_decoding_message_size(parts.message_limit);
    let gate = GateGrpc::new(
        parts.service.clone(),
        parts.metrics.clone(),
        parts.subscriber_buffer,
        parts.slow_subscriber,
    );
    let gate = TokenValidatorServer::new(gate).max_decoding_message_size(parts.message_limit);
    let limit = parts.message_limit;
    let admin =
        AccountAdminServer::new(AdminGrpc::new(parts.service.clone(), parts.metrics.clone()))
            .max_decoding_message_size(limit);
    let lookup = AccountServiceServer::new(AccountLookupGrpc::new(
        parts.service.clone(),
        parts.metrics.clone(),
    ))
    .max_decoding_message_size(limit);
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<AccountInterfaceServer<AccountGrpc>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1();
    let reflection = match reflection {
        Ok(service) => Some(service),
        Err(err) => {
            tracing::warn!(error = %err, "gRPC reflection is off: descriptors did not load");
            None
        }
    };
    builder()
        .layer(MapResponseLayer::new(bad_input_is_invalid_argument))
        .add_service(gate)
        .add_service(admin)
        .add_service(lookup)
        .add_service(notice_admin)
        .add_service(health)
        .add_optional_service(reflection)
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await
}

/// Runs one operation, counts and times it under `method`, and maps its answer.
pub(crate) async fn observed<T>(
    metrics: &Metrics,
    method: &'static str,
    work: impl Future<Output = crate::domain::Result<T>>,
) -> Result<tonic::Response<T>, tonic::Status> {
    let started = std::time::Instant::now();
    let result = work.await;
    let outcome = match &result {
        Ok(_) => "OK".to_owned(),
        Err(err) => format!("{:?}", tonic::Code::from_i32(err.reason.grpc_code())),
    };
    metrics.observe(
        "grpc",
        method,
        "POST",
        outcome,
        started.elapsed().as_secs_f64(),
    );
    result.map(tonic::Response::new).map_err(status::to_status)
}

fn builder() -> Server {
    Server::builder()
        .timeout(Duration::from_secs(30))
        .max_concurrent_streams(1024)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
}

fn incoming(listener: tokio::net::TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// tonic refuses a request it cannot take before any handler runs: `OUT_OF_RANGE` for one over
/// the size limit, `INTERNAL` for one that does not decode. The API promises
/// `INVALID_ARGUMENT` with reason `PARAM_INVALID` for bad input, so rewrite those answers.
fn bad_input_is_invalid_argument(response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers();
    let status = headers
        .get("grpc-status")
        .and_then(|s| s.to_str().ok())
        .unwrap_or("");
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .unwrap_or("");
    let message = message.replace("%20", " ");
    let err = match status {
        "11" if message.contains("message length too large") => Error::new(
            Reason::PayloadTooLarge,
            "request message exceeds the size limit",
        ),
        "13" if message.contains("failed to decode Protobuf message") => {
            Error::param("request message does not decode")
        }
        _ => return response,
    };
    status::to_status(err).into_http()
}
