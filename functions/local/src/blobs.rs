//! The local stand-in for S3 presigned URLs: GETs stream the blob, PUTs are checked
//! against what the URL pinned and confirm their upload.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sluice_backend_local::{BlobAccessError, BlobBody};
use sluice_core::app::uploads;

use super::responses::error_response;
use crate::Shared;

/// The local stand-in for S3 presigned URLs: signature, expiry and pinned fields checked.
pub(crate) async fn blob_request(
    shared: &Shared,
    method: &str,
    key: &str,
    query: &[(String, String)],
    headers: &HashMap<String, String>,
    body: Body,
    request_id: &str,
) -> Response {
    let pinned = match shared.blobs.authorize(method, key, query) {
        Ok(p) => p,
        Err(e) => return error_response(e.status(), &e.to_string(), request_id),
    };
    match method {
        "GET" => {
            // A large blob streams from its file, never read whole into memory.
            let (meta, body) = match shared.blobs.open_blob(key).await {
                Ok(Some(found)) => found,
                Ok(None) => {
                    return error_response(404, "The specified key does not exist.", request_id)
                }
                Err(e) => return error_response(500, &e.to_string(), request_id),
            };
            let body = match body {
                BlobBody::Packed(bytes) => Body::from(bytes),
                BlobBody::File(file) => Body::from_stream(tokio_util::io::ReaderStream::new(file)),
            };
            let mut resp = (StatusCode::OK, body).into_response();
            if let Some(ct) = meta
                .content_type
                .and_then(|c| HeaderValue::from_str(&c).ok())
            {
                resp.headers_mut().insert("content-type", ct);
            }
            resp.headers_mut()
                .insert("content-length", HeaderValue::from(meta.size));
            resp
        }
        "PUT" => {
            let ct = headers.get("content-type").map(String::as_str);
            let checksum = headers.get("x-amz-checksum-sha256").map(String::as_str);
            match shared
                .blobs
                .put_checked(key, body.into_data_stream(), &pinned, ct, checksum)
                .await
            {
                Ok(meta) => {
                    // Where S3 notifies EventBridge, the local PUT handler confirms the
                    // upload itself before answering, so a client's confirm that follows
                    // is a cheap read. A concurrent confirm still races it safely: the
                    // completion is conditional, exactly one wins.
                    if let Err(e) = uploads::on_stored(&shared.ctx, key).await {
                        tracing::warn!(error = %e, key, "confirming a stored upload failed");
                    }
                    let mut resp = StatusCode::OK.into_response();
                    if let Some(etag) = meta.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
                        resp.headers_mut().insert("etag", etag);
                    }
                    resp
                }
                Err(e @ BlobAccessError::BadRequest(_)) => {
                    error_response(400, &e.to_string(), request_id)
                }
                Err(e) => error_response(e.status(), &e.to_string(), request_id),
            }
        }
        _ => error_response(403, "method not signed", request_id),
    }
}
