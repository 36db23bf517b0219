//! The gRPC face of [`Error`]: the code from the shared table, the reason as a
//! `google.rpc.ErrorInfo` detail (domain `lares`), and `RetryInfo` plus a `retry-after`
//! metadata entry where the error has a retry delay.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::Error;

/// Domain of every `ErrorInfo` Lares sends.
pub const ERROR_DOMAIN: &str = "lares";

pub fn to_status(err: Error) -> Status {
    err.log();
    let code = Code::from_i32(err.reason.grpc_code());
    let mut details =
        ErrorDetails::with_error_info(err.reason.code(), ERROR_DOMAIN, HashMap::new());
    if let Some(seconds) = err.retry_after {
        details.set_retry_info(Some(Duration::from_secs(seconds.into())));
    }
    let mut status = Status::with_error_details(code, err.message.clone(), details);
    if let Some(seconds) = err.retry_after {
        status.metadata_mut().insert("retry-after", seconds.into());
    }
    status
}

/// The reason a status carries, if it came from Lares.
pub fn reason_of(status: &Status) -> Option<String> {
    let info = status.get_details_error_info()?;
    (info.domain == ERROR_DOMAIN).then_some(info.reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Reason;

    #[test]
    fn status_carries_code_reason_and_retry() {
        let status = to_status(Error::unavailable(3, "queue full"));
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(reason_of(&status).as_deref(), Some("UNAVAILABLE"));
        assert_eq!(status.metadata().get("retry-after").unwrap(), "3");
        assert!(!status.message().contains("queue"));
        let status = to_status(Error::new(Reason::PayloadTooLarge, "too big"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason_of(&status).as_deref(), Some("PARAM_INVALID"));
    }
}
