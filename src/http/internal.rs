//! Internal HTTP: health for orchestrators, Prometheus metrics, the JWKS of access tokens, and
//! admin REST.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::{self, Data};
use actix_web::{HttpResponse, Responder};

use super::error::ApiError;
use super::notices;
use crate::domain::Error;
use crate::service::Service;
use crate::telemetry::Metrics;

/// How long readiness waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics))
        .route("/.well-known/jwks.json", web::get().to(jwks))
        .configure(super::admin::routes)
        .configure(notices::admin_routes);
}

async fn live() -> impl Responder {
    HttpResponse::Ok().json(serde_json::json!({ "status": "live" }))
}

/// Ready only when the store answers within the timeout.
async fn ready(svc: Data<Service>) -> Result<HttpResponse, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, svc.ready()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))),
        Ok(Err(err)) => Err(ApiError(err)),
        Err(_) => Err(ApiError(Error::unavailable(
            1,
            "store did not answer the readiness check",
        ))),
    }
}

/// The public keys that verify access tokens.
async fn jwks(svc: Data<Service>) -> impl Responder {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .body(svc.jwks().to_owned())
}

async fn metrics(metrics: Data<Arc<Metrics>>) -> impl Responder {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render())
}
