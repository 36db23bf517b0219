//! The client API as JSON over HTTP, under `/accounts/v1`. Each handler decodes, calls the one
//! service operation, and answers its message.

use actix_web::web::{self, Data, Json};
use actix_web::{HttpRequest, Resource};

use super::body::ProtoJson;
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
        .service(post("/accounts/v1/refresh", refresh))
        .service(post("/accounts/v1/token", token))
        .service(post("/accounts/v1/logout", logout));
    for (path, rpc) in NOT_YET {
        cfg.service(post(path, move || async move {
            Err::<Json<()>, _>(ApiError(Error::unimplemented(rpc)))
        }));
    }
}

/// Routes declared by the API whose operations this version does not provide.
const NOT_YET: [(&str, &str); 6] = [
    ("/accounts/v1/apple/login", "AppleLogin"),
    ("/accounts/v1/apple/login/callback", "AppleLoginCallback"),
    ("/accounts/v1/google/login", "GoogleLogin"),
    ("/accounts/v1/fb/login", "FacebookLogin"),
    ("/accounts/v1/link", "Link"),
    ("/accounts/v1/unlink", "Unlink"),
];

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
fn query_param(query: &str, name: &str) -> Result<Option<String>, ApiError> {
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
