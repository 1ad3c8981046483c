//! Errors as a client sees them: the one map from the core's error (and the few errors
//! only HTTP has) to a status and the error envelope.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use sluice_core::Error;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    App(#[from] Error),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    UnsupportedMediaType(String),
}

impl From<sluice_core::ports::StoreError> for ApiError {
    fn from(e: sluice_core::ports::StoreError) -> Self {
        ApiError::App(e.into())
    }
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::field(field, message).into()
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::not_found(what).into()
    }
    pub fn malformed(message: impl Into<String>) -> Self {
        Error::Malformed(message.into()).into()
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::App(e) => status(e),
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::MethodNotAllowed => 405,
            ApiError::UnsupportedMediaType(_) => 415,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::App(e) => kind(e),
            ApiError::PayloadTooLarge { .. } => "PayloadTooLargeError",
            ApiError::MethodNotAllowed => "MethodNotAllowedError",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaTypeError",
        }
    }

    /// The envelope every error response carries.
    pub fn envelope(&self) -> ErrorEnvelope {
        let details = match self {
            ApiError::App(Error::Invalid { details, .. }) => details.clone(),
            _ => json!({}),
        };
        ErrorEnvelope {
            success: false,
            status: self.status(),
            error: ErrorBody {
                kind: self.kind().into(),
                message: self.to_string(),
                details,
            },
        }
    }
}

/// The body of every 4xx and 5xx.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorEnvelope {
    /// Always false.
    pub success: bool,
    pub status: u16,
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// `ValidationError`, `NotFoundError`, … (one per status).
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    /// For a validation error: the field at fault (`field`) and what else it found.
    pub details: Value,
}

/// The HTTP status of a use-case error.
pub fn status(e: &Error) -> u16 {
    match e {
        Error::Invalid { .. } => 422,
        Error::Malformed(_) => 400,
        Error::Unauthenticated | Error::Unverified(_) => 401,
        Error::Forbidden(_) => 403,
        Error::NotFound(_) => 404,
        Error::Conflict(_) => 409,
        Error::Busy | Error::NotYet(_) | Error::NotReady(_) => 503,
        Error::Internal(_) => 500,
    }
}

/// The envelope's `error.type` of a use-case error.
pub fn kind(e: &Error) -> &'static str {
    match e {
        Error::Invalid { .. } => "ValidationError",
        Error::Malformed(_) => "BadRequestError",
        Error::Unauthenticated | Error::Unverified(_) => "AuthenticationError",
        Error::Forbidden(_) => "ForbiddenError",
        Error::NotFound(_) => "NotFoundError",
        Error::Conflict(_) => "ConflictError",
        Error::Busy | Error::NotYet(_) | Error::NotReady(_) => "ServiceUnavailableError",
        Error::Internal(_) => "InternalServerError",
    }
}
