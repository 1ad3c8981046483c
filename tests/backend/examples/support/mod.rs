//! What the P2 examples share: a proxy in front of moto that counts each AWS request by
//! service and operation, and a call of a route through the router.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::Value;
use sluice_api::{self, ApiRequest, Router};
use sluice_core::AppContext;

#[derive(Clone)]
pub struct Proxy {
    pub upstream: String,
    pub http: reqwest::Client,
    pub counts: Arc<Mutex<BTreeMap<String, u64>>>,
    /// How an S3 request (the blob bytes, a source's listing) is counted.
    pub s3_label: fn(&Method) -> String,
}

pub async fn forward(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    {
        let mut counts = p.counts.lock().unwrap();
        if let Some((service, op)) = target.split_once('.') {
            let service = match service {
                s if s.starts_with("DynamoDB") => "dynamodb",
                s if s.starts_with("AmazonSQS") => "sqs",
                s if s.starts_with("AWSEvents") => "events",
                other => other,
            };
            *counts.entry(format!("{service} {op}")).or_default() += 1;
            if op == "PutEvents" {
                // Billed per entry; the rule turns each entry into one SQS send.
                let entries = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["Entries"].as_array().map(Vec::len))
                    .unwrap_or(0) as u64;
                *counts.entry("events entries".into()).or_default() += entries;
            }
        } else {
            *counts.entry((p.s3_label)(&method)).or_default() += 1;
        }
    }
    let mut req = p.http.request(
        method,
        format!(
            "{}{}",
            p.upstream,
            uri.path_and_query().map(|q| q.as_str()).unwrap_or("/")
        ),
    );
    for (name, value) in headers.iter() {
        if name != "host" && name != "content-length" {
            req = req.header(name, value);
        }
    }
    match req.body(body).send().await {
        Ok(resp) => {
            let status =
                StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut out = HeaderMap::new();
            for (name, value) in resp.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    out.insert(name, value.clone());
                }
            }
            let bytes = resp.bytes().await.unwrap_or_default();
            (status, out, bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

pub async fn call(
    ctx: &AppContext,
    router: &Router,
    key: &str,
    method: &str,
    path: &str,
    ns: Option<&str>,
    body: Option<Value>,
) -> Value {
    let mut headers =
        std::collections::HashMap::from([("authorization".to_string(), format!("Bearer {key}"))]);
    if let Some(ns) = ns {
        headers.insert("x-namespace".into(), ns.into());
    }
    let resp = sluice_api::serve(
        ctx,
        router,
        ApiRequest {
            method: method.into(),
            path: path.into(),
            headers,
            body: body
                .map(|b| bytes::Bytes::from(b.to_string()))
                .unwrap_or_default(),
            ..Default::default()
        },
    )
    .await;
    let value = resp.value();
    assert!(resp.status == 200, "{method} {path}: {value}");
    value
}
