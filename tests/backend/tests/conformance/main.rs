//! The backend conformance suite: the HTTP flows (and the TTL attribute) on the local
//! adapters, the AWS adapters (pointed at moto through `AWS_ENDPOINT_URL`) and the
//! in-memory ports. The ports' own contracts are public checks
//! (`sluice_core::testing::contract`), run by each backend crate's tests.
//!
//! The AWS half runs when `AWS_ENDPOINT_URL` is set; `scripts/test` always sets it and
//! also sets `SLUICE_REQUIRE_MOTO=1`, which turns a missing endpoint into a failure.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use sluice_api::{ApiRequest, Matched, Router, ROUTES};
use sluice_core::app::auth;
use sluice_core::ports::{
    Cond, Key, Query, Queue, QueueName, Received, StoreResult, Update, Write,
};
use sluice_core::store;
use sluice_core::{AppContext, Config};

fn test_config() -> Config {
    Config {
        purge_settle: Duration::from_secs(1),
        visibility_timeout: Duration::from_secs(2),
        batch_chunk_size: 7,
        sync_page_size: 7,
        ..Config::default()
    }
}

fn local_ctx() -> (AppContext, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) =
        sluice_backend_local::context(dir.path(), "http://127.0.0.1:1", test_config()).unwrap();
    let embedders = sluice_models::embedders(ctx.config.models_dir.clone());
    let ctx = ctx
        .with_embedders(embedders)
        .with_extractors(sluice_extract::Extractors::shared());
    (ctx, dir)
}

async fn moto_ctx() -> Option<AppContext> {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        assert!(
            std::env::var("SLUICE_REQUIRE_MOTO").is_err(),
            "SLUICE_REQUIRE_MOTO is set but AWS_ENDPOINT_URL is not"
        );
        eprintln!("AWS_ENDPOINT_URL not set: AWS half of the conformance suite not run");
        return None;
    }
    let sdk = sluice_backend_aws::sdk_config().await;
    let prefix = format!(
        "conf-{}",
        sluice_core::domain::ids::IdKind::Job
            .new_id()
            .replace('_', "-")
    );
    let names = sluice_backend_aws::provision(&sdk, &prefix)
        .await
        .expect("provision on moto");
    Some(sluice_backend_aws::context_from(&sdk, names, test_config()))
}

/// Runs a conformance check on every backend available.
macro_rules! conformance {
    ($name:ident, $($check:ident)::+) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local() {
                let (ctx, _dir) = super::local_ctx();
                super::$($check)::+(ctx).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn aws_on_moto() {
                if let Some(ctx) = super::moto_ctx().await {
                    super::$($check)::+(ctx).await;
                }
            }
            /// The in-memory ports the use-case tests run on, held to the same checks.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$($check)::+(super::memory_ctx()).await;
            }
        }
    };
}

fn memory_ctx() -> AppContext {
    let m = sluice_core::testing::Memory::with_config(test_config());
    let embedders = sluice_models::embedders(m.ctx.config.models_dir.clone());
    m.ctx
        .clone()
        .with_embedders(embedders)
        .with_extractors(sluice_extract::Extractors::shared())
}

/// Calls the API in-process through the route table.
struct Client {
    ctx: AppContext,
    router: Router,
    key: String,
}

impl Client {
    async fn new(ctx: AppContext) -> Self {
        let key = auth::generate_key();
        auth::ensure_key(&ctx, "conformance", &key).await.unwrap();
        Client {
            ctx,
            router: Router::new(&ROUTES),
            key,
        }
    }

    /// A new namespace (no extractors) and a bucket of these properties in it.
    async fn space(&self, name: &str, properties: Value) -> (String, String) {
        let (s, ns) = self
            .call(
                "POST",
                "/v1/namespaces",
                None,
                Some(json!({"namespace_name": name})),
            )
            .await;
        assert_eq!(s, 200, "{ns}");
        let ns = ns["namespace_id"].as_str().unwrap().to_string();
        let bucket = json!({"bucket_name": "b", "bucket_schema": {"properties": properties}});
        let (s, b) = self
            .call("POST", "/v1/buckets", Some(&ns), Some(bucket))
            .await;
        assert_eq!(s, 200, "{b}");
        (ns, b["bucket_id"].as_str().unwrap().to_string())
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        ns: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_with(method, path, ns, body, &[]).await
    }

    async fn call_with(
        &self,
        method: &str,
        path: &str,
        ns: Option<&str>,
        body: Option<Value>,
        extra_headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut headers =
            HashMap::from([("authorization".to_string(), format!("Bearer {}", self.key))]);
        for (name, value) in extra_headers {
            headers.insert(name.to_string(), value.to_string());
        }
        if let Some(ns) = ns {
            headers.insert("x-namespace".into(), ns.into());
        }
        let req = ApiRequest {
            method: method.into(),
            path: path.into(),
            query: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers,
            body: body.map(|b| Bytes::from(b.to_string())).unwrap_or_default(),
            ..Default::default()
        };
        // Each route runs with only the ports its table entry grants, as its Lambda does.
        let resp = match self.router.find(&req.method, &req.path) {
            Matched::Found(route, params) => {
                let req = ApiRequest {
                    path_params: params,
                    ..req
                };
                sluice_api::dispatch(&route.restrict(&self.ctx), route, req).await
            }
            _ => sluice_api::serve(&self.ctx, &self.router, req).await,
        };
        (resp.status, resp.value())
    }
}

/// The TTL attribute the template gives the table.
fn template_ttl_attribute() -> String {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
            .expect("template.yaml");
    let spec = template
        .split("TimeToLiveSpecification:")
        .nth(1)
        .expect("the table has a TimeToLiveSpecification");
    spec.lines()
        .find_map(|l| l.trim().strip_prefix("AttributeName:"))
        .expect("TimeToLiveSpecification names an attribute")
        .trim()
        .to_string()
}

/// Idempotency-Key records expire through the table's TTL attribute, and one past its
/// expiry is treated as absent even before the table deletes it.
async fn expiring_items(ctx: AppContext) {
    assert_eq!(template_ttl_attribute(), store::TTL_ATTRIBUTE);
    let c = Client::new(ctx.clone()).await;
    let org = auth::ensure_key(&ctx, "conformance", &c.key).await.unwrap();
    let body = json!({"namespace_name": "ttl-a"});
    let key = [("idempotency-key", "same-key")];
    let (s, first) = c
        .call_with("POST", "/v1/namespaces", None, Some(body.clone()), &key)
        .await;
    assert_eq!(s, 200, "{first}");
    let (s, replay) = c
        .call_with("POST", "/v1/namespaces", None, Some(body), &key)
        .await;
    assert_eq!((s, &replay), (200, &first), "a fresh key replays");

    let records = ctx
        .table
        .query(&Query::partition(store::keys::org_pk(&org)).prefix("IDEMKEY#"))
        .await
        .unwrap()
        .items;
    assert_eq!(records.len(), 1);
    let mut record = records[0].clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expires = record[store::TTL_ATTRIBUTE]
        .as_i64()
        .expect("the record carries the TTL attribute");
    assert!(
        expires > now + 23 * 3600 && expires <= now + 24 * 3600 + 60,
        "{expires}"
    );
    assert!(!record.contains_key("ttl"));

    // Past its expiry but not yet deleted (DynamoDB deletes within days): the key is free.
    record.insert(store::TTL_ATTRIBUTE.into(), json!(now - 1));
    ctx.table.write(Write::put(record)).await.unwrap();
    let other = json!({"namespace_name": "ttl-b"});
    let (s, fresh) = c
        .call_with("POST", "/v1/namespaces", None, Some(other.clone()), &key)
        .await;
    assert_eq!(s, 200, "an expired key runs the new request: {fresh}");
    assert_ne!(fresh["namespace_id"], first["namespace_id"]);
    let (s, replay) = c
        .call_with("POST", "/v1/namespaces", None, Some(other), &key)
        .await;
    assert_eq!(
        (s, &replay),
        (200, &fresh),
        "and is claimed again for 24 hours"
    );
}
conformance!(expiring_items_on, expiring_items);

/// A sealed secret opens only for the organisation and purpose it was sealed for (KMS
/// encryption context on moto, associated data on the key file).
async fn sealing(ctx: AppContext) {
    use sluice_core::ports::{SealContext, SealPurpose};
    let a = SealContext {
        org_id: "org_a",
        purpose: SealPurpose::ConnectionCredentials,
    };
    let sealed = ctx.sealer.seal(b"secret", &a).await.unwrap();
    assert_eq!(ctx.sealer.open(&sealed, &a).await.unwrap(), b"secret");
    let other_org = SealContext {
        org_id: "org_b",
        ..a
    };
    assert!(ctx.sealer.open(&sealed, &other_org).await.is_err());
    let other_purpose = SealContext {
        purpose: SealPurpose::WebhookSecret,
        ..a
    };
    assert!(ctx.sealer.open(&sealed, &other_purpose).await.is_err());
}
conformance!(sealing_on, sealing);

/// Works the tasks queue in-process until `done` holds (or fails after a while).
async fn work_until(ctx: &AppContext, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..60 {
        if done().await {
            return;
        }
        for q in QueueName::ALL {
            for m in ctx
                .queue
                .receive(q, 10, Duration::from_secs(5))
                .await
                .unwrap()
            {
                if sluice_core::jobs::handle(ctx, q, &m.body, m.receive_count)
                    .await
                    .is_ok()
                {
                    ctx.queue.ack(q, &m.receipt).await.unwrap();
                }
            }
        }
    }
    panic!("background work did not finish");
}

mod api;
mod batches;
mod documents;
mod syncs;
mod uploads;
