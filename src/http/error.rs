//! The HTTP face of [`Error`]: the documented JSON shape, the status from the shared table,
//! `Retry-After` where the error has one, and one log line per failed request.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::domain::Error;

/// An [`Error`] on its way out of an HTTP handler or extractor.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError(err)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// `{"code": 401, "reason": "AUTH_FAILED", "message": "...", "metadata": {}}`.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    code: u16,
    reason: &'a str,
    message: &'a str,
    metadata: Metadata,
}

#[derive(serde::Serialize)]
struct Metadata {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.reason.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        let err = &self.0;
        let body = ErrorBody {
            code: err.reason.http_status(),
            reason: err.reason.code(),
            message: &err.message,
            metadata: Metadata {},
        };
        let mut response = HttpResponse::build(self.status_code());
        if let Some(seconds) = err.retry_after {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        response.json(body)
    }
}
