//! Admin REST on internal HTTP: the admin credential of a request, and the routes under
//! `/admin`. Bodies and answers are the admin protobuf messages in their JSON mapping.

use actix_web::HttpRequest;
use actix_web::http::header;

use super::error::ApiError;
use crate::config::AdminRole;
use crate::domain::admin::Caller;
use crate::service::Service;

/// The caller of an admin request, checked against the role `need`.
pub(crate) fn caller(
    req: &HttpRequest,
    svc: &Service,
    need: AdminRole,
    action: &'static str,
) -> Result<Caller, ApiError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    Ok(svc.admin(authorization, need, action)?)
}
