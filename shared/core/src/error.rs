//! Errors that reach a client, mapped to HTTP status and the error envelope once.

use serde_json::{json, Value};

use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Validation { message: String, details: Value },
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the service is busy, try again")]
    Unavailable,
    /// A part of the service this request needs is not installed or not running.
    #[error("{0}")]
    NotReady(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A 422 naming the offending field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        ApiError::Validation {
            message: format!("{field}: {message}"),
            details: json!({ "field": field, "reason": message }),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::Validation {
            message: message.into(),
            details: json!({}),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Validation { .. } => 422,
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::Unavailable | ApiError::NotReady(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Validation { .. } => "ValidationError",
            ApiError::BadRequest(_) => "BadRequestError",
            ApiError::Unauthorized => "AuthenticationError",
            ApiError::NotFound(_) => "NotFoundError",
            ApiError::MethodNotAllowed => "MethodNotAllowedError",
            ApiError::Conflict(_) => "ConflictError",
            ApiError::PayloadTooLarge { .. } => "PayloadTooLargeError",
            ApiError::Unavailable | ApiError::NotReady(_) => "ServiceUnavailableError",
            ApiError::Internal(_) => "InternalServerError",
        }
    }

    /// The envelope every error response carries.
    pub fn envelope(&self) -> Value {
        let details = match self {
            ApiError::Validation { details, .. } => details.clone(),
            _ => json!({}),
        };
        json!({
            "success": false,
            "status": self.status(),
            "error": { "type": self.kind(), "message": self.to_string(), "details": details },
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor => {
                ApiError::BadRequest("cursor is not valid for this list".into())
            }
            StoreError::Busy => ApiError::Unavailable,
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}
