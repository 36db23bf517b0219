//! The JSON body extractor for proto messages: checks the content type, enforces the body limit
//! while reading, and turns parse failures into `PARAM_INVALID` without echoing the input.

use std::collections::HashMap;

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
        let read = read_body(req, payload, "application/json");
        Box::pin(async move {
            let body = read.await?;
            serde_json::from_slice(&body)
                .map(ProtoJson)
                .map_err(|e| ApiError(parse_error(&e)))
        })
    }
}

/// The fields of an `application/x-www-form-urlencoded` body (a browser's form post). A field
/// sent twice keeps its first value; text that is not UTF-8 is refused.
pub struct FormFields(pub HashMap<String, String>);

impl FromRequest for FormFields {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_body(req, payload, "application/x-www-form-urlencoded");
        Box::pin(async move {
            let body = read.await?;
            let text = std::str::from_utf8(&body)
                .map_err(|_| ApiError(Error::param("request body is not valid UTF-8")))?;
            let mut fields = HashMap::new();
            for pair in text.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let (key, value) = (form_decode(key)?, form_decode(value)?);
                fields.entry(key).or_insert(value);
            }
            Ok(FormFields(fields))
        })
    }
}

/// One form-encoded component: `+` is a space, then percent-decoding, which must give UTF-8.
fn form_decode(text: &str) -> Result<String, ApiError> {
    let spaced = text.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8();
    decoded
        .map(|d| d.into_owned())
        .map_err(|_| ApiError(Error::param("a form field is not valid UTF-8")))
}

/// Reads a body of content type `essence`, at most the configured limit.
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    essence: &'static str,
) -> LocalBoxFuture<'static, Result<BytesMut, ApiError>> {
    let limit = req.app_data::<Data<Limits>>().map_or(64 * 1024, |l| l.body);
    let typed = has_content_type(req, essence);
    let declared = declared_length(req);
    let mut payload = payload.take();
    Box::pin(async move {
        if !typed {
            let err = Error::new(
                Reason::UnsupportedMediaType,
                format!("content type must be {essence}"),
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
        Ok(body)
    })
}

fn too_large(limit: usize) -> ApiError {
    ApiError(Error::new(
        Reason::PayloadTooLarge,
        format!("request body exceeds {limit} bytes"),
    ))
}

fn has_content_type(req: &HttpRequest, essence: &str) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(text) = value.to_str() else {
        return false;
    };
    let sent = text.split(';').next().unwrap_or("").trim();
    sent.eq_ignore_ascii_case(essence)
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
