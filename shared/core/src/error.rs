//! The error of every use case and worker. It says what went wrong in the service's
//! terms; `sluice-api` maps it to an HTTP status and the error envelope (once), and the
//! queue workers to "deliver again" or "drop" through [`Error::retryable`].

use serde_json::{json, Value};

use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input breaks a rule; `details` names the field when there is one.
    #[error("{message}")]
    Invalid { message: String, details: Value },
    /// The input cannot be read at all (a cursor from another list, a missing header).
    #[error("{0}")]
    Malformed(String),
    #[error("missing or invalid API key")]
    Unauthenticated,
    /// A signed request (a provider's webhook) whose signature does not hold.
    #[error("{0}")]
    Unverified(String),
    /// The caller is known but may not do this (a document's ACL).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The request contradicts the current state (a duplicate, a finished upload).
    #[error("{0}")]
    Conflict(String),
    /// The backend throttled or another writer raced: the same request may succeed later.
    #[error("the service is busy, try again")]
    Busy,
    /// Work that depends on a write not yet visible (a batch whose submit has not
    /// committed): deliver the message again later.
    #[error("{0}")]
    NotYet(String),
    /// A part of the service this request needs is not installed or not running.
    #[error("{0}")]
    NotReady(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl Error {
    /// An invalid field, named.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Error::Invalid {
            message: format!("{field}: {message}"),
            details: json!({ "field": field, "reason": message }),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid {
            message: message.into(),
            details: json!({}),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    /// Whether the same request or message may succeed if tried again unchanged. A queue
    /// worker delivers such a message again; any other error is final, and the message is
    /// dropped with the error logged.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Error::Busy | Error::NotYet(_) | Error::NotReady(_) | Error::Internal(_)
        )
    }
}

/// A refused field, from the domain's checks: a 422 naming it.
impl From<crate::domain::schema::FieldError> for Error {
    fn from(e: crate::domain::schema::FieldError) -> Self {
        Error::field(e.field, e.reason)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor => {
                Error::Malformed("cursor is not valid for this list".into())
            }
            StoreError::Busy => Error::Busy,
            other => Error::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_retried() {
        assert!(Error::from(StoreError::Busy).retryable());
        assert!(Error::NotYet("batch not submitted".into()).retryable());
        assert!(Error::Internal(anyhow::anyhow!("network")).retryable());
        assert!(!Error::field("x", "bad").retryable());
        assert!(!Error::not_found("bucket").retryable());
        assert!(!Error::Conflict("dup".into()).retryable());
        assert!(!Error::from(StoreError::InvalidCursor).retryable());
    }
}
