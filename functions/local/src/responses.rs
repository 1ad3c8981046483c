//! HTTP responses from the API's answers, and the blob endpoint's refusals, in the
//! error envelope.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sluice_api::ApiResponse;

pub(crate) fn json_response(r: &ApiResponse, request_id: &str) -> Response {
    let mut resp = (
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        r.body.clone(),
    )
        .into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    for (name, value) in &r.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            resp.headers_mut().insert(*name, v);
        }
    }
    resp
}

/// An S3-style refusal from the local blob endpoint, in the error envelope.
pub(crate) fn error_response(status: u16, message: &str, request_id: &str) -> Response {
    let kind = match status {
        403 => "AccessDenied",
        404 => "NoSuchKey",
        400 => "BadRequest",
        _ => "InternalError",
    };
    let body = serde_json::json!({
        "success": false,
        "status": status,
        "error": {"type": kind, "message": message, "details": {}},
    });
    json_response(
        &ApiResponse {
            status,
            body: serde_json::to_vec(&body).unwrap_or_default().into(),
            headers: Vec::new(),
        },
        request_id,
    )
}
