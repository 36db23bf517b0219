//! The client API as JSON over HTTP, under `/accounts/v1`. Each handler decodes, calls the one
//! service operation, and answers its message.

use actix_web::http::header;
use actix_web::web::{self, Data, Json};
use actix_web::{HttpRequest, HttpResponse, Resource};

use super::body::{FormFields, ProtoJson};
use super::error::ApiError;
use super::method_not_allowed;
use crate::domain::Error;
use crate::proto::account as pb;
use crate::service::{RequestMeta, Service};

type Reply<T> = Result<Json<T>, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get("/accounts/v1/dev/ping", dev_ping))
        .service(post("/accounts/v1/username/register", username_register))
        .service(post("/accounts/v1/username/login", username_login))
        .service(post("/accounts/v1/device/login", device_login))
        .service(post("/accounts/v1/apple/login", apple_login))
        .service(post(
            "/accounts/v1/apple/login/callback",
            apple_login_callback,
        ))
        .service(post("/accounts/v1/google/login", google_login))
        .service(post("/accounts/v1/fb/login", facebook_login))
        .service(post("/accounts/v1/refresh", refresh))
        .service(post("/accounts/v1/token", token))
        .service(post("/accounts/v1/logout", logout))
        .service(post("/accounts/v1/link", link))
        .service(post("/accounts/v1/unlink", unlink));
}

fn post<F, Args>(path: &str, handler: F) -> Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .default_service(web::to(method_not_allowed))
}

fn get<F, Args>(path: &str, handler: F) -> Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(method_not_allowed))
}

fn meta(req: &HttpRequest) -> RequestMeta {
    RequestMeta {
        ip: req.peer_addr().map(|a| a.ip()),
    }
}

async fn dev_ping(svc: Data<Service>, req: HttpRequest) -> Reply<pb::DevPingResponse> {
    let message = query_param(req.query_string(), "message")?.unwrap_or_default();
    Ok(Json(svc.dev_ping(pb::DevPingRequest { message }).await?))
}

/// One parameter of a form-encoded query string, refusing text that is not UTF-8 (a lossy
/// decoder would quietly turn it into replacement characters).
pub(crate) fn query_param(query: &str, name: &str) -> Result<Option<String>, ApiError> {
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != name {
            continue;
        }
        let value = value.replace('+', " ");
        let decoded = percent_encoding::percent_decode_str(&value).decode_utf8();
        let decoded =
            decoded.map_err(|_| ApiError(Error::param(format!("{name}: not valid UTF-8"))))?;
        return Ok(Some(decoded.into_owned()));
    }
    Ok(None)
}

async fn username_register(
    svc: Data<Service>,
    req: HttpRequest,
    body: ProtoJson<pb::UsernameRegisterRequest>,
) -> Reply<pb::LoginInfo> {
    Ok(Json(svc.username_register(body.0, &meta(&req)).await?))
}

async fn username_login(
    svc: Data<Service>,
    req: HttpRequest,
    body: ProtoJson<pb::UsernameLoginRequest>,
) -> Reply<pb::LoginInfo> {
    Ok(Json(svc.username_login(body.0, &meta(&req)).await?))
}

async fn device_login(
    svc: Data<Service>,
    req: HttpRequest,
    body: ProtoJson<pb::DeviceLoginRequest>,
) -> Reply<pb::LoginInfo> {
    Ok(Json(svc.device_login(body.0, &meta(&req)).await?))
}

async fn refresh(
    svc: Data<Service>,
    body: ProtoJson<pb::RefreshRequest>,
) -> Reply<pb::RefreshResponse> {
    Ok(Json(svc.refresh(body.0).await?))
}

async fn token(svc: Data<Service>, body: ProtoJson<pb::TokenRequest>) -> Reply<pb::TokenResponse> {
    Ok(Json(svc.token(body.0).await?))
}

async fn logout(
    svc: Data<Service>,
    body: ProtoJson<pb::LogoutRequest>,
) -> Reply<pb::LogoutResponse> {
    Ok(Json(svc.logout(body.0).await?))
}

async fn apple_login(
    svc: Data<Service>,
    req: HttpRequest,
    body: ProtoJson<pb::AppleLoginRequest>,
) -> Reply<pb::LoginInfo> {
    Ok(Json(svc.apple_login(body.0, &meta(&req)).await?))
}

/// Apple posts the form here and the browser follows the answer: a 303 to the app's link.
async fn apple_login_callback(
    svc: Data<Service>,
    req: HttpRequest,
    form: FormFields,
) -> Result<HttpResponse, ApiError> {
    let mut fields = form.0;
    let mut take = |name: &str| fields.remove(name).unwrap_or_default();
    let callback = pb::AppleLoginCallbackRequest {
        code: take("code"),
        id_token: take("id_token"),
        state: take("state"),
        user: take("user"),
        error: take("error"),
    };
    let answer = svc.apple_login_callback(callback, &meta(&req)).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, answer.location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

async fn google_login(
    svc: Data<Service>,
    req: HttpRequest,
    body: ProtoJson<pb::GoogleLoginRequest>,
) -> Reply<pb::LoginInfo> {
    Ok(Json(svc.google_login(body.0, &meta(&req)).await?))
}

async fn facebook_login(
    svc: Data<Service>,
    req: HttpRequest,
    body: ProtoJson<pb::FacebookLoginRequest>,
) -> Reply<pb::LoginInfo> {
    Ok(Json(svc.facebook_login(body.0, &meta(&req)).await?))
}

async fn link(svc: Data<Service>, body: ProtoJson<pb::LinkRequest>) -> Reply<pb::LinkResponse> {
    Ok(Json(svc.link(body.0).await?))
}

async fn unlink(svc: Data<Service>, body: ProtoJson<pb::UnlinkRequest>) -> Reply<pb::LinkResponse> {
    Ok(Json(svc.unlink(body.0).await?))
}
