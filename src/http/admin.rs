//! Admin REST on internal HTTP, under `/admin`. A gate in front of every `/admin` path checks
//! the admin key before anything else is read: `GET` needs the viewer role, every other method
//! (a change) the operator role. Bodies and answers are the admin protobuf messages in their
//! JSON mapping.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::{self, Data, Json, Path};
use actix_web::{HttpMessage, HttpRequest, ResponseError};

use super::accounts::{get, post, query_param};
use super::body::ProtoJson;
use super::error::ApiError;
use super::method_not_allowed;
use crate::config::AdminRole;
use crate::domain::Error;
use crate::domain::admin::Caller;
use crate::proto::account_admin as pb;
use crate::service::Service;

type Reply<T> = Result<Json<T>, ApiError>;

/// Longest path named in a refusal log line.
const ACTION_MAX: usize = 96;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get("/admin/accounts", list_accounts))
        .service(get("/admin/accounts/{accountId}", get_account))
        .service(post("/admin/accounts/{accountId}/ban", ban))
        .service(post("/admin/accounts/{accountId}/unban", unban))
        .service(post("/admin/accounts/{accountId}/logout", logout))
        .service(post("/admin/accounts/{accountId}/password", reset_password))
        .service(
            web::resource("/admin/accounts/{accountId}/color")
                .route(web::put().to(set_color))
                .default_service(web::to(method_not_allowed)),
        )
        .service(get(
            "/admin/accounts/{accountId}/login-events",
            login_events,
        ))
        .service(get("/admin/audit", audit_log));
}

/// Checks the admin key of every `/admin` request before it is routed; lets others through.
pub(crate) async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let path = req.path();
    if path != "/admin" && !path.starts_with("/admin/") {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let Some(svc) = req.app_data::<Data<Service>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let need = match *req.method() {
        Method::GET | Method::HEAD => AdminRole::Viewer,
        _ => AdminRole::Operator,
    };
    let action: String = format!("{} {}", req.method(), path)
        .chars()
        .take(ACTION_MAX)
        .collect();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match svc.admin(authorization, need, &action) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(err) => {
            let response = ApiError(err).error_response();
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

/// The caller of an admin request, checked against the role `need` (the gate has usually
/// checked it already).
pub(crate) fn caller(
    req: &HttpRequest,
    svc: &Service,
    need: AdminRole,
    action: &'static str,
) -> Result<Caller, ApiError> {
    if let Some(caller) = req.extensions().get::<Caller>()
        && caller.role >= need
    {
        return Ok(caller.clone());
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    Ok(svc.admin(authorization, need, action)?)
}

fn number<T: std::str::FromStr + Default>(query: &str, name: &str) -> Result<T, ApiError> {
    match query_param(query, name)? {
        None => Ok(T::default()),
        Some(text) if text.is_empty() => Ok(T::default()),
        Some(text) => text
            .parse()
            .map_err(|_| ApiError(Error::param(format!("{name}: not a number in range")))),
    }
}

fn text(query: &str, name: &str) -> Result<String, ApiError> {
    Ok(query_param(query, name)?.unwrap_or_default())
}

async fn list_accounts(svc: Data<Service>, req: HttpRequest) -> Reply<pb::ListAccountsResponse> {
    caller(&req, &svc, AdminRole::Viewer, "account.list")?;
    let q = req.query_string();
    let request = pb::ListAccountsRequest {
        account_id: text(q, "accountId")?,
        username_prefix: text(q, "usernamePrefix")?,
        provider: text(q, "provider")?,
        subject: text(q, "subject")?,
        device_id: text(q, "deviceId")?,
        color: text(q, "color")?,
        status: text(q, "status")?,
        created_from: number(q, "createdFrom")?,
        created_before: number(q, "createdBefore")?,
        page_size: number(q, "pageSize")?,
        page_token: text(q, "pageToken")?,
    };
    Ok(Json(svc.admin_list_accounts(request).await?))
}

async fn get_account(
    svc: Data<Service>,
    req: HttpRequest,
    id: Path<String>,
) -> Reply<pb::AccountView> {
    caller(&req, &svc, AdminRole::Viewer, "account.get")?;
    let request = pb::GetAccountRequest {
        account_id: id.into_inner(),
    };
    Ok(Json(svc.admin_get_account(request).await?))
}

async fn ban(
    svc: Data<Service>,
    req: HttpRequest,
    id: Path<String>,
    body: ProtoJson<pb::BanAccountRequest>,
) -> Reply<pb::AdminAccount> {
    let who = caller(&req, &svc, AdminRole::Operator, "account.ban")?;
    let mut request = body.0;
    request.account_id = id.into_inner();
    Ok(Json(svc.admin_ban(&who, request).await?))
}

async fn unban(svc: Data<Service>, req: HttpRequest, id: Path<String>) -> Reply<pb::AdminAccount> {
    let who = caller(&req, &svc, AdminRole::Operator, "account.unban")?;
    let request = pb::UnbanAccountRequest {
        account_id: id.into_inner(),
    };
    Ok(Json(svc.admin_unban(&who, request).await?))
}

async fn logout(
    svc: Data<Service>,
    req: HttpRequest,
    id: Path<String>,
    body: ProtoJson<pb::LogoutSessionsRequest>,
) -> Reply<pb::LogoutSessionsResponse> {
    let who = caller(&req, &svc, AdminRole::Operator, "account.logout")?;
    let mut request = body.0;
    request.account_id = id.into_inner();
    Ok(Json(svc.admin_logout(&who, request).await?))
}

async fn reset_password(
    svc: Data<Service>,
    req: HttpRequest,
    id: Path<String>,
    body: ProtoJson<pb::ResetPasswordRequest>,
) -> Reply<pb::ResetPasswordResponse> {
    let who = caller(&req, &svc, AdminRole::Operator, "account.reset_password")?;
    let mut request = body.0;
    request.account_id = id.into_inner();
    Ok(Json(svc.admin_reset_password(&who, request).await?))
}

async fn set_color(
    svc: Data<Service>,
    req: HttpRequest,
    id: Path<String>,
    body: ProtoJson<pb::SetDefaultColorRequest>,
) -> Reply<pb::AdminAccount> {
    let who = caller(&req, &svc, AdminRole::Operator, "account.set_color")?;
    let mut request = body.0;
    request.account_id = id.into_inner();
    Ok(Json(svc.admin_set_color(&who, request).await?))
}

async fn login_events(
    svc: Data<Service>,
    req: HttpRequest,
    id: Path<String>,
) -> Reply<pb::ListLoginEventsResponse> {
    caller(&req, &svc, AdminRole::Viewer, "account.login_events")?;
    let q = req.query_string();
    let request = pb::ListLoginEventsRequest {
        account_id: id.into_inner(),
        page_size: number(q, "pageSize")?,
        page_token: text(q, "pageToken")?,
    };
    Ok(Json(svc.admin_login_events(request).await?))
}

async fn audit_log(svc: Data<Service>, req: HttpRequest) -> Reply<pb::ListAuditLogResponse> {
    caller(&req, &svc, AdminRole::Viewer, "audit.list")?;
    let q = req.query_string();
    let request = pb::ListAuditLogRequest {
        actor: text(q, "actor")?,
        action: text(q, "action")?,
        target: text(q, "target")?,
        page_size: number(q, "pageSize")?,
        page_token: text(q, "pageToken")?,
    };
    Ok(Json(svc.admin_audit_log(request).await?))
}
