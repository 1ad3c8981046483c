//! The HTTP adapter: a request in, the route table's answer out; the blob endpoint's
//! paths go to `blobs`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use sluice_api::{ApiRequest, ApiResponse};
use sluice_backend_local as local;

use super::blobs::blob_request;
use super::responses::json_response;
use crate::Shared;

pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| {
            sluice_core::domain::ids::IdKind::Event
                .new_id()
                .replacen("evt_", "req_", 1)
        });
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let headers = sluice_api::header_map(&parts.headers);
    let limit = shared
        .ctx
        .config
        .max_body_bytes
        .max(shared.ctx.config.max_inline_bytes);
    if path == METRICS_ROUTE && parts.method == axum::http::Method::GET {
        return metrics_response(&shared);
    }
    if let Some(key) = path.strip_prefix(local::BLOB_ROUTE) {
        let key = percent(key);
        return blob_request(
            &shared,
            parts.method.as_str(),
            &key,
            &query,
            &headers,
            body,
            &request_id,
        )
        .await;
    }
    let bytes = match axum::body::to_bytes(body, limit + 1).await {
        Ok(b) if b.len() <= shared.ctx.config.max_body_bytes => b,
        Ok(_) | Err(_) => {
            let e = sluice_api::ApiError::PayloadTooLarge {
                limit: shared.ctx.config.max_body_bytes,
            };
            return json_response(&ApiResponse::error(&e), &request_id);
        }
    };
    let api_req = ApiRequest {
        method: parts.method.as_str().to_string(),
        path,
        path_params: HashMap::new(),
        query: query.into_iter().collect(),
        headers,
        body: bytes,
        request_id: request_id.clone(),
    };
    // A panic fails only its request (a 500 in the envelope); the server goes on.
    let serving =
        std::panic::AssertUnwindSafe(sluice_api::serve(&shared.ctx, &shared.router, api_req));
    let resp = match futures::FutureExt::catch_unwind(serving).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::error!(request_id, "the request's handler panicked");
            ApiResponse::error(&sluice_api::ApiError::App(
                sluice_core::error::Error::Internal(anyhow::anyhow!(
                    "the request could not be handled"
                )),
            ))
        }
    };
    json_response(&resp, &request_id)
}

/// Where sluice-local serves its figures in the OpenMetrics text format (on the loopback
/// address it binds, like the API; no key, as Prometheus scrapes).
const METRICS_ROUTE: &str = "/metrics";

fn metrics_response(shared: &Shared) -> Response {
    Response::builder()
        .header(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
        .body(axum::body::Body::from(shared.metrics.render()))
        .expect("a static header is valid")
}

fn percent(s: &str) -> String {
    url::form_urlencoded::parse(format!("k={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
