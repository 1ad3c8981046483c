//! S3 API failures as the engine acts on them: the HTTP status and S3's error code.

use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use sluice_core::net::Refused;
use sluice_core::ports::SourceError;

use crate::errors::{excerpt, with_excerpt};

/// `Retry-After` in seconds, when the provider sent one.
fn retry_after<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<Duration> {
    e.raw_response()
        .and_then(|r| r.headers().get("retry-after"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// An S3 API failure as the engine acts on it. `what`: the operation and its target,
/// as "listing s3://bucket/prefix".
pub fn classify<E>(
    provider: &str,
    what: &str,
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> SourceError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.code().map(str::to_string);
    let after = retry_after(&e);
    let Some(status) = status else {
        return unanswered(provider, what, &e);
    };
    let code_text = code
        .as_deref()
        .and_then(excerpt)
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    let message = with_excerpt(
        format!("{provider} answered HTTP {status}{code_text} when {what}"),
        e.message(),
    );
    match (status, code.as_deref()) {
        (401 | 403, _)
        | (_, Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch")) => {
            SourceError::Denied(message)
        }
        (_, Some("NoSuchBucket")) | (404, _) => SourceError::Missing(message),
        (412, _) | (_, Some("PreconditionFailed")) => SourceError::Changed(message),
        (429 | 503, _) | (_, Some("SlowDown" | "Throttling" | "ServiceUnavailable")) => {
            SourceError::Throttled {
                message,
                retry_after: after,
            }
        }
        _ => SourceError::Failed(message),
    }
}

/// A request that got no HTTP answer: refused by the guard, not sent, timed out, or
/// the connection failed.
fn unanswered<E, R>(provider: &str, what: &str, e: &SdkError<E, R>) -> SourceError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    if let Some(why) = Refused::find(e).and_then(|why| excerpt(&why)) {
        return SourceError::Invalid(format!("{provider} endpoint refused when {what}: {why}"));
    }
    match e {
        SdkError::ConstructionFailure(_) => SourceError::Invalid(format!(
            "the request to {provider} could not be built when {what} (a name, prefix or token it cannot carry)"
        )),
        SdkError::TimeoutError(_) => {
            SourceError::Failed(format!("{provider} did not answer in time when {what}"))
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            SourceError::Failed(format!("{provider} did not answer in time when {what}"))
        }
        SdkError::DispatchFailure(d) if d.is_user() => SourceError::Invalid(format!(
            "the request to {provider} could not be sent when {what}"
        )),
        SdkError::DispatchFailure(_) => SourceError::Failed(format!(
            "could not connect to {provider} when {what}"
        )),
        _ => SourceError::Failed(format!(
            "{provider} sent an answer that could not be read when {what}"
        )),
    }
}
