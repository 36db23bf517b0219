//! The one error type every operation answers, and the table that gives each reason its HTTP
//! status and gRPC code. Both edges map through [`Reason::http_status`] and
//! [`Reason::grpc_code`], so a request fails the same way over HTTP and gRPC.

use std::borrow::Cow;

/// Why a request failed: a stable, greppable code that clients may switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    ParamInvalid,
    AuthFailed,
    SessionTimeout,
    SessionIllegal,
    PlatformAuthFailed,
    AccountBanned,
    StatusIllegal,
    /// No admin credential, or one that is not recognised.
    Unauthenticated,
    /// An admin credential whose role does not allow the call.
    PermissionDenied,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    Internal,
    Unimplemented,
    Unavailable,
}

/// gRPC status codes, by number, so that the domain does not depend on a transport crate.
pub mod grpc_code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const NOT_FOUND: i32 = 5;
    pub const ALREADY_EXISTS: i32 = 6;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

impl Reason {
    /// `(code name, HTTP status, gRPC code)`: the single mapping table. Payload and media-type
    /// failures are `PARAM_INVALID` with the HTTP status that names them.
    fn row(self) -> (&'static str, u16, i32) {
        use grpc_code::*;
        match self {
            Reason::ParamInvalid => ("PARAM_INVALID", 400, INVALID_ARGUMENT),
            Reason::AuthFailed => ("AUTH_FAILED", 401, UNAUTHENTICATED),
            Reason::SessionTimeout => ("SESSION_TIMEOUT", 401, UNAUTHENTICATED),
            Reason::SessionIllegal => ("SESSION_ILLEGAL", 401, UNAUTHENTICATED),
            Reason::PlatformAuthFailed => ("PLATFORM_AUTH_FAILED", 401, UNAUTHENTICATED),
            Reason::AccountBanned => ("ACCOUNT_BANNED", 403, PERMISSION_DENIED),
            Reason::StatusIllegal => ("STATUS_ILLEGAL", 403, PERMISSION_DENIED),
            Reason::Unauthenticated => ("UNAUTHENTICATED", 401, UNAUTHENTICATED),
            Reason::PermissionDenied => ("PERMISSION_DENIED", 403, PERMISSION_DENIED),
            Reason::NotFound => ("NOT_FOUND", 404, NOT_FOUND),
            Reason::MethodNotAllowed => ("METHOD_NOT_ALLOWED", 405, UNIMPLEMENTED),
            Reason::Conflict => ("CONFLICT", 409, ALREADY_EXISTS),
            Reason::PayloadTooLarge => ("PARAM_INVALID", 413, INVALID_ARGUMENT),
            Reason::UnsupportedMediaType => ("PARAM_INVALID", 415, INVALID_ARGUMENT),
            Reason::RateLimited => ("RATE_LIMITED", 429, RESOURCE_EXHAUSTED),
            Reason::Internal => ("INTERNAL", 500, INTERNAL),
            Reason::Unimplemented => ("UNIMPLEMENTED", 501, UNIMPLEMENTED),
            Reason::Unavailable => ("UNAVAILABLE", 503, UNAVAILABLE),
        }
    }

    /// The code name clients see, such as `AUTH_FAILED`.
    pub fn code(self) -> &'static str {
        self.row().0
    }

    pub fn http_status(self) -> u16 {
        self.row().1
    }

    pub fn grpc_code(self) -> i32 {
        self.row().2
    }
}

/// A failed operation: a reason, a message that is safe to show the client, and, for
/// server-side failures, a detail that goes to the log only.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} ({})", .message, .reason.code())]
pub struct Error {
    pub reason: Reason,
    pub message: Cow<'static, str>,
    /// Seconds the client should wait before retrying (`Retry-After`).
    pub retry_after: Option<u32>,
    /// Server-side detail for the log; never sent to the client.
    pub detail: Option<String>,
}

impl Error {
    pub fn new(reason: Reason, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            reason,
            message: message.into(),
            retry_after: None,
            detail: None,
        }
    }

    pub fn param(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Reason::ParamInvalid, message)
    }

    /// Wrong username or password, or an unknown user: the same answer for all three.
    pub fn auth_failed() -> Self {
        Self::new(Reason::AuthFailed, "wrong username or password")
    }

    pub fn session_illegal() -> Self {
        Self::new(Reason::SessionIllegal, "session is not valid")
    }

    pub fn session_timeout() -> Self {
        Self::new(Reason::SessionTimeout, "session has expired")
    }

    pub fn banned() -> Self {
        Self::new(Reason::AccountBanned, "account is banned")
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Reason::NotFound, message)
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Reason::Conflict, message)
    }

    pub fn unimplemented(what: &'static str) -> Self {
        Self::new(
            Reason::Unimplemented,
            format!("{what} is not available in this version"),
        )
    }

    /// The service cannot take the request now; the client should retry after `seconds`.
    pub fn unavailable(seconds: u32, detail: impl Into<String>) -> Self {
        Error {
            retry_after: Some(seconds),
            detail: Some(detail.into()),
            ..Self::new(Reason::Unavailable, "service is busy, retry later")
        }
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Error {
            detail: Some(detail.into()),
            ..Self::new(Reason::Internal, "internal error")
        }
    }

    /// Logs a failed request once, where it is answered: server-side failures with their
    /// detail, client errors briefly. Messages and details never hold request secrets.
    pub fn log(&self) {
        let detail = self.detail.as_deref().unwrap_or("");
        match self.reason {
            Reason::Internal => {
                tracing::error!(reason = self.reason.code(), detail, "request failed")
            }
            Reason::Unavailable => {
                tracing::warn!(reason = self.reason.code(), detail, "request shed")
            }
            _ => {
                tracing::debug!(reason = self.reason.code(), message = %self.message, "request refused")
            }
        }
    }

    /// True for failures of the server rather than of the request.
    pub fn is_server_side(&self) -> bool {
        self.reason.http_status() >= 500
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_documented_mapping() {
        let expect = [
            (Reason::ParamInvalid, "PARAM_INVALID", 400, 3),
            (Reason::AuthFailed, "AUTH_FAILED", 401, 16),
            (Reason::SessionTimeout, "SESSION_TIMEOUT", 401, 16),
            (Reason::SessionIllegal, "SESSION_ILLEGAL", 401, 16),
            (Reason::PlatformAuthFailed, "PLATFORM_AUTH_FAILED", 401, 16),
            (Reason::AccountBanned, "ACCOUNT_BANNED", 403, 7),
            (Reason::StatusIllegal, "STATUS_ILLEGAL", 403, 7),
            (Reason::Unauthenticated, "UNAUTHENTICATED", 401, 16),
            (Reason::PermissionDenied, "PERMISSION_DENIED", 403, 7),
            (Reason::NotFound, "NOT_FOUND", 404, 5),
            (Reason::MethodNotAllowed, "METHOD_NOT_ALLOWED", 405, 12),
            (Reason::Conflict, "CONFLICT", 409, 6),
            (Reason::PayloadTooLarge, "PARAM_INVALID", 413, 3),
            (Reason::UnsupportedMediaType, "PARAM_INVALID", 415, 3),
            (Reason::RateLimited, "RATE_LIMITED", 429, 8),
            (Reason::Internal, "INTERNAL", 500, 13),
            (Reason::Unimplemented, "UNIMPLEMENTED", 501, 12),
            (Reason::Unavailable, "UNAVAILABLE", 503, 14),
        ];
        for (reason, code, http, grpc) in expect {
            assert_eq!(
                (reason.code(), reason.http_status(), reason.grpc_code()),
                (code, http, grpc)
            );
        }
    }

    #[test]
    fn unavailable_carries_retry_after_and_hides_detail() {
        let err = Error::unavailable(2, "hash queue full");
        assert_eq!(err.retry_after, Some(2));
        assert!(!err.message.contains("hash"));
        assert!(err.is_server_side());
    }
}
