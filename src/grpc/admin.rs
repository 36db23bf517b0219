//! Admin gRPC on the internal listener: the admin credential of a call, from its
//! `authorization` metadata (`Bearer <key>`).

use tonic::{Request, Status};

use super::status::to_status;
use crate::config::AdminRole;
use crate::domain::admin::Caller;
use crate::service::Service;

/// The caller of an admin call, checked against the role `need`.
pub(crate) fn caller<T>(
    req: &Request<T>,
    svc: &Service,
    need: AdminRole,
    action: &'static str,
) -> Result<Caller, Status> {
    let authorization = req
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    svc.admin(authorization, need, action).map_err(to_status)
}
