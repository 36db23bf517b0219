//! Notices over HTTP: the client list on the external listener (`/notices/v1`), and the admin
//! REST routes on the internal one (`/admin/notices`). Admin handlers check the caller's key
//! before they read the body, so an unauthenticated call is refused as such whatever it sent.

use actix_web::http::header;
use actix_web::web::{self, Data, Json, Payload};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;

use super::accounts::query_param;
use super::admin::caller;
use super::body::ProtoJson;
use super::error::ApiError;
use super::method_not_allowed;
use crate::config::AdminRole;
use crate::domain::Error;
use crate::proto::notice as pb;
use crate::proto::notice_admin as admin;
use crate::service::Service;

type Reply<T> = Result<Json<T>, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/notices/v1/list")
            .route(web::get().to(list))
            .default_service(web::to(method_not_allowed)),
    );
}

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/notices")
            .route(web::get().to(list_notices))
            .route(web::post().to(create_notice))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/admin/notices/{id}")
            .route(web::get().to(get_notice))
            .route(web::put().to(update_notice))
            .route(web::delete().to(delete_notice))
            .default_service(web::to(method_not_allowed)),
    );
}

/// `GET /notices/v1/list?locale=en-US`.
async fn list(svc: Data<Service>, req: HttpRequest) -> Reply<pb::NoticeListResponse> {
    let locale = query_param(req.query_string(), "locale")?.unwrap_or_default();
    Ok(Json(
        svc.notice_list(pb::NoticeListRequest { locale }).await?,
    ))
}

/// `GET /admin/notices?pageSize=&pageToken=&locale=` (`page_size` and `page_token` also do).
async fn list_notices(svc: Data<Service>, req: HttpRequest) -> Reply<admin::ListNoticesResponse> {
    let caller = caller(&req, &svc, AdminRole::Viewer, "notice.list")?;
    let query = req.query_string();
    let page_size = match param(query, "pageSize", "page_size")? {
        None => 0,
        Some(text) => text
            .parse()
            .map_err(|_| Error::param("pageSize: must be between 1 and 100"))?,
    };
    let list = admin::ListNoticesRequest {
        page_size,
        page_token: param(query, "pageToken", "page_token")?.unwrap_or_default(),
        locale: query_param(query, "locale")?,
    };
    Ok(Json(svc.list_notices(&caller, list).await?))
}

async fn get_notice(svc: Data<Service>, req: HttpRequest) -> Reply<pb::Notice> {
    let caller = caller(&req, &svc, AdminRole::Viewer, "notice.get")?;
    let id = path_id(&req)?;
    Ok(Json(
        svc.get_notice(&caller, admin::GetNoticeRequest { id })
            .await?,
    ))
}

/// Answers 201 with the notice and its `Location`.
async fn create_notice(
    svc: Data<Service>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(&req, &svc, AdminRole::Operator, "notice.create")?;
    let body: admin::CreateNoticeRequest = body(&req, payload).await?;
    let created = svc.create_notice(&caller, body).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/admin/notices/{}", created.id)))
        .json(created))
}

/// The body is a `CreateNoticeRequest`; the id comes from the path.
async fn update_notice(
    svc: Data<Service>,
    req: HttpRequest,
    payload: Payload,
) -> Reply<pb::Notice> {
    let caller = caller(&req, &svc, AdminRole::Operator, "notice.update")?;
    let id = path_id(&req)?;
    let body: admin::CreateNoticeRequest = body(&req, payload).await?;
    let update = admin::UpdateNoticeRequest {
        id,
        title: body.title,
        content: body.content,
        sort: body.sort,
        start: body.start,
        end: body.end,
        locale: body.locale,
    };
    Ok(Json(svc.update_notice(&caller, update).await?))
}

async fn delete_notice(svc: Data<Service>, req: HttpRequest) -> Reply<admin::DeleteNoticeResponse> {
    let caller = caller(&req, &svc, AdminRole::Operator, "notice.delete")?;
    let id = path_id(&req)?;
    let delete = admin::DeleteNoticeRequest { id };
    Ok(Json(svc.delete_notice(&caller, delete).await?))
}

/// Reads the JSON body once the caller is known.
async fn body<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: Payload,
) -> Result<T, ApiError> {
    let ProtoJson(body) = ProtoJson::<T>::from_request(req, &mut payload.into_inner()).await?;
    Ok(body)
}

/// The `{id}` of the path; the service refuses ids that are not positive.
fn path_id(req: &HttpRequest) -> Result<i64, ApiError> {
    let text = req.match_info().get("id").unwrap_or("");
    let id = text.parse();
    Ok(id.map_err(|_| Error::param("id: must be a positive notice id"))?)
}

/// A query parameter under its JSON name or its proto name.
fn param(query: &str, json: &str, proto: &str) -> Result<Option<String>, ApiError> {
    Ok(query_param(query, json)?.or(query_param(query, proto)?))
}
