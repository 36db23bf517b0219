//! The HTTP edge (actix-web): the client API and notices on the external listener; health,
//! metrics and admin REST on the internal one. Every response, error or not, is counted and
//! timed by route.

pub mod accounts;
pub mod admin;
pub mod body;
pub mod error;
pub mod internal;
pub mod notices;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, Next, from_fn};
use actix_web::web::{self, Data};
use actix_web::{App, HttpServer};

use self::body::Limits;
use self::error::ApiError;
use crate::domain::Error;
use crate::service::Service;
use crate::telemetry::Metrics;

/// What the HTTP servers are built from.
#[derive(Clone)]
pub struct HttpParts {
    pub service: Service,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    pub workers: usize,
    pub shutdown_grace: Duration,
}

/// The external server: the client API and notices. Must be called inside an actix `System`.
pub fn external(parts: HttpParts, listener: TcpListener) -> std::io::Result<Server> {
    serve(parts, listener, external_routes, false)
}

fn external_routes(cfg: &mut web::ServiceConfig) {
    accounts::routes(cfg);
    notices::routes(cfg);
}

/// The internal server: health, metrics, JWKS and the admin REST API. Must be called inside an
/// actix `System`.
pub fn internal(parts: HttpParts, listener: TcpListener) -> std::io::Result<Server> {
    serve(parts, listener, internal::routes, true)
}

fn serve(
    parts: HttpParts,
    listener: TcpListener,
    routes: fn(&mut web::ServiceConfig),
    admin: bool,
) -> std::io::Result<Server> {
    let (workers, grace) = (parts.workers, parts.shutdown_grace);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(Data::new(parts.service.clone()))
            .app_data(Data::new(parts.metrics.clone()))
            .app_data(Data::new(parts.limits))
            .wrap(Condition::new(admin, from_fn(admin::gate)))
            .wrap(from_fn(observe))
            .configure(routes)
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(grace.as_secs())
    .listen(listener)?
    .run();
    Ok(server)
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError(Error::not_found("no such route")))
}

pub(crate) async fn method_not_allowed() -> Result<actix_web::HttpResponse, ApiError> {
    let err = Error::new(
        crate::domain::Reason::MethodNotAllowed,
        "method not allowed on this route",
    );
    Err(ApiError(err))
}

/// Counts and times each request under its route pattern (never the raw path, which would let
/// clients mint label values).
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<Data<Arc<Metrics>>>().cloned();
    let method = method_label(req.method());
    let response = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        let status = response.status().as_u16().to_string();
        metrics.observe(
            "http",
            &route,
            method,
            status,
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(response)
}

fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
