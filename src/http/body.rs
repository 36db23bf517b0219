//! The JSON body extractor for proto messages: checks the content type, enforces the body limit
//! while reading, and turns parse failures into `PARAM_INVALID` without echoing the input.

use actix_web::dev::Payload;
use actix_web::web::{BytesMut, Data};
use actix_web::{FromRequest, HttpRequest, http::header};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::{Error, Reason};

/// Request limits shared by the HTTP workers.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub body: usize,
}

/// A proto message read from a JSON body (proto3 JSON mapping).
pub struct ProtoJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ProtoJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<Data<Limits>>().map_or(64 * 1024, |l| l.body);
        let json = is_json(req);
        let declared = declared_length(req);
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                let err = Error::new(
                    Reason::UnsupportedMediaType,
                    "content type must be application/json",
                );
                return Err(err.into());
            }
            if declared.is_some_and(|len| len > limit) {
                return Err(too_large(limit));
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|_| ApiError(Error::param("request body could not be read")))?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            serde_json::from_slice(&body)
                .map(ProtoJson)
                .map_err(|e| ApiError(parse_error(&e)))
        })
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError(Error::new(
        Reason::PayloadTooLarge,
        format!("request body exceeds {limit} bytes"),
    ))
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(text) = value.to_str() else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Describes a JSON failure by kind and position only: serde's own messages can quote values,
/// and a quoted value may be a password.
pub fn parse_error(err: &serde_json::Error) -> Error {
    use serde_json::error::Category;
    let what = match err.classify() {
        Category::Syntax | Category::Eof => "request body is not valid JSON",
        Category::Data => {
            "request body does not match the message: a field has the wrong type or value"
        }
        Category::Io => "request body could not be read",
    };
    Error::param(format!(
        "{what} (line {}, column {})",
        err.line(),
        err.column()
    ))
}
