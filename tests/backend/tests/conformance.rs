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

async fn api_flow(ctx: AppContext) {
    let c = Client::new(ctx.clone()).await;
    let (s, ns) = c
        .call("POST", "/v1/namespaces", None, Some(json!({"namespace_name": "conf", "feature_extractors": [{"feature_extractor_name": "text_extractor", "version": "v1"}]})))
        .await;
    assert_eq!(s, 200, "{ns}");
    let ns_id = ns["namespace_id"].as_str().unwrap().to_string();
    let (s, b) = c
        .call(
            "POST",
            "/v1/buckets",
            Some("conf"),
            Some(json!({"bucket_name": "docs", "bucket_schema": {"properties": {"body": {"type": "text", "required": true}, "n": {"type": "integer"}}},
                        "unique_key": {"fields": ["n"]}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let bkt = b["bucket_id"].as_str().unwrap().to_string();
    let objects: Vec<Value> = (0..30).map(|i| json!({"blobs": [{"property": "body", "type": "text", "content": format!("doc {i}")}], "metadata": {"n": i}})).collect();
    let mut with_bad = objects.clone();
    with_bad.push(json!({"blobs": [{"property": "body", "type": "image", "url": "https://x/y.png"}], "metadata": {"n": 99}}));
    with_bad.push(json!({"blobs": [{"property": "body", "type": "text", "content": "dup"}], "metadata": {"n": 0}}));
    let (s, r) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/objects/batch"),
            Some(&ns_id),
            Some(json!({"objects": with_bad})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["succeeded_count"], json!(30), "{r}");
    assert_eq!(r["failed_count"], json!(2));
    assert_eq!(r["failed"][0]["object_index"], json!(30));
    assert_eq!(r["failed"][1]["error_type"], json!("ConflictError"));
    // Paged listing sees each object once.
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let body = json!({"limit": 7, "cursor": cursor});
        let (s, page) = c
            .call(
                "POST",
                &format!("/v1/buckets/{bkt}/objects/list"),
                Some(&ns_id),
                Some(body),
            )
            .await;
        assert_eq!(s, 200, "{page}");
        ids.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["object_id"].as_str().unwrap().to_string()),
        );
        cursor = page["pagination"]["next_cursor"]
            .as_str()
            .map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(ids.len(), 30);
    let (_, bucket) = c
        .call("GET", &format!("/v1/buckets/{bkt}"), Some(&ns_id), None)
        .await;
    assert_eq!(bucket["object_count"], json!(30));
    // Delete the bucket: hidden at once, purged in the background, name reusable.
    let (s, del) = c
        .call("DELETE", &format!("/v1/buckets/{bkt}"), Some(&ns_id), None)
        .await;
    assert_eq!(s, 200, "{del}");
    let task_id = del["task_id"].as_str().unwrap().to_string();
    let (s, _) = c
        .call("GET", &format!("/v1/buckets/{bkt}"), Some(&ns_id), None)
        .await;
    assert_eq!(s, 404);
    work_until(&ctx, async || {
        c.call("GET", &format!("/v1/tasks/{task_id}"), None, None)
            .await
            .1["status"]
            == json!("COMPLETED")
    })
    .await;
    let left = ctx
        .table
        .query(&Query::partition(format!("BKT#{bkt}")))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "items left: {:?}", left.items);
    assert!(ctx
        .blobs
        .list(&format!("{ns_id}/{bkt}/"), None, 10)
        .await
        .unwrap()
        .0
        .is_empty());
    assert!(ctx
        .table
        .get(&Key::new(format!("NS#{ns_id}"), format!("BKT#{bkt}")))
        .await
        .unwrap()
        .is_none());
    let (s, _) = c
        .call("POST", "/v1/buckets", Some(&ns_id), Some(json!({"bucket_name": "docs", "bucket_schema": {"properties": {"t": {"type": "text"}}}})))
        .await;
    assert_eq!(s, 200);
}
conformance!(api_flow_on, api_flow);

/// Uploads on both backends: issue → bytes land (as a presigned PUT would store them)
/// → confirm → object; then double confirm, expiry and the sweeper.
async fn upload_flow(ctx: AppContext) {
    use sha2::Digest;
    let c = Client::new(ctx.clone()).await;
    let (ns_id, bkt) = c
        .space("uploads", json!({"photo": {"type": "image"}}))
        .await;
    let bytes = Bytes::from_static(b"\x89PNG\r\n\x1a\nnot really a png");
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    let (s, up) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/uploads"),
            Some(&ns_id),
            Some(json!({"filename": "a.png", "content_type": "image/png", "file_size_bytes": bytes.len(), "file_hash": sha})),
        )
        .await;
    assert_eq!(s, 200, "{up}");
    let upl = up["upload_id"].as_str().unwrap().to_string();
    let url = up["presigned_url"].as_str().unwrap();
    assert_eq!(up["status"], json!("PENDING"));
    assert_eq!(up["blob_property"], json!("photo"));
    // Each store signs what it must enforce: S3 in SigV4's signed headers, the local
    // store in its own signed parameters. A URL of neither kind fails here.
    let query: Vec<(String, String)> = url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if url.starts_with("http://blobs.memory.invalid/") {
        // The in-memory store's URLs stand in for a client's PUT; nothing is signed.
    } else if url.contains(sluice_backend_local::BLOB_ROUTE) {
        assert_eq!(param("X-Sluice-Content-Type").as_deref(), Some("image/png"));
        assert_eq!(
            param("X-Sluice-Content-Length"),
            Some(bytes.len().to_string())
        );
        assert_eq!(param("X-Sluice-Checksum-Sha256"), Some(sha.clone()));
        assert!(param("X-Sluice-Signature").is_some(), "{url}");
    } else {
        let signed = param("X-Amz-SignedHeaders").unwrap_or_else(|| panic!("not SigV4: {url}"));
        for h in ["content-type", "content-length", "x-amz-checksum-sha256"] {
            assert!(signed.contains(h), "{h} not signed: {signed}");
        }
    }
    // Confirming before the bytes arrive is refused, and changes nothing.
    let confirm = format!("/v1/buckets/{bkt}/uploads/{upl}/confirm");
    let (s, e) = c.call("POST", &confirm, Some(&ns_id), None).await;
    assert_eq!(s, 409, "{e}");
    let key = format!("{ns_id}/{bkt}/uploads/{upl}/a.png");
    ctx.blobs
        .put(&key, bytes.clone(), Some("image/png"))
        .await
        .unwrap();
    // A size or ETag that differs from the stored file is refused; the upload stays pending.
    let (s, e) = c
        .call(
            "POST",
            &confirm,
            Some(&ns_id),
            Some(json!({"file_size_bytes": 5})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["details"]["field"].clone()),
        (422, json!("file_size_bytes")),
        "{e}"
    );
    let (s, e) = c
        .call(
            "POST",
            &confirm,
            Some(&ns_id),
            Some(json!({"etag": "\"0000\""})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["details"]["field"].clone()),
        (422, json!("etag")),
        "{e}"
    );
    let (s, done) = c
        .call(
            "POST",
            &confirm,
            Some(&ns_id),
            Some(json!({"file_size_bytes": bytes.len()})),
        )
        .await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["status"], json!("COMPLETED"));
    assert_eq!(done["file_hash"], json!(sha));
    let object_id = done["object_id"].as_str().unwrap().to_string();
    let (_, again) = c.call("POST", &confirm, Some(&ns_id), None).await;
    assert_eq!(again["object_id"], json!(object_id));
    let (_, obj) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/objects/{object_id}"),
            Some(&ns_id),
            None,
        )
        .await;
    // The object reads the promoted copy, which no presigned URL names; the URL's key
    // is retired.
    let promoted = format!("{ns_id}/{bkt}/files/{upl}/a.png");
    assert_eq!(
        obj["blobs"][0]["properties"]["storage_key"],
        json!(promoted)
    );
    assert!(ctx.blobs.head(&key).await.unwrap().is_none());
    assert_eq!(ctx.blobs.get(&promoted).await.unwrap().unwrap(), bytes);
    assert_eq!(obj["blobs"][0]["details"]["hash"], json!(sha));
    let (_, bucket) = c
        .call("GET", &format!("/v1/buckets/{bkt}"), Some(&ns_id), None)
        .await;
    assert_eq!(bucket["object_count"], json!(1));
    // Same bytes again: the completed upload is returned, and no URL.
    let (_, dup) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/uploads"),
            Some(&ns_id),
            Some(json!({"filename": "b.png", "content_type": "image/png", "file_hash": sha})),
        )
        .await;
    assert_eq!(dup["is_duplicate"], json!(true));
    assert_eq!(dup["duplicate_of_upload_id"], json!(upl));
    assert!(dup["presigned_url"].is_null());

    // Expiry: an upload whose time has passed fails on read and loses its bytes...
    let (_, late) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/uploads"),
            Some(&ns_id),
            Some(json!({"filename": "late.png", "content_type": "image/png"})),
        )
        .await;
    let late_id = late["upload_id"].as_str().unwrap().to_string();
    let late_key = format!("{ns_id}/{bkt}/uploads/{late_id}/late.png");
    ctx.blobs
        .put(&late_key, bytes.clone(), Some("image/png"))
        .await
        .unwrap();
    let upload_key = Key::new(format!("BKT#{bkt}"), format!("UPL#{late_id}"));
    let past = Write::Update {
        key: upload_key.clone(),
        updates: vec![
            Update::Set("expires_at".into(), json!("2020-01-01T00:00:00Z")),
            Update::Set(
                "gsi1sk".into(),
                json!(format!("{:012}#{late_id}", 1577836800)),
            ),
        ],
        cond: Cond::Exists,
    };
    ctx.table.write(past.clone()).await.unwrap();
    let (_, got) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/uploads/{late_id}"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(got["status"], json!("FAILED"), "{got}");
    assert!(ctx.blobs.head(&late_key).await.unwrap().is_none());
    let (s, _) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/uploads/{late_id}/confirm"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 409);
    // ...and the sweeper finds the ones nobody reads.
    let (_, swept) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/uploads"),
            Some(&ns_id),
            Some(json!({"filename": "swept.png", "content_type": "image/png"})),
        )
        .await;
    let swept_id = swept["upload_id"].as_str().unwrap().to_string();
    ctx.table
        .write(Write::Update {
            key: Key::new(format!("BKT#{bkt}"), format!("UPL#{swept_id}")),
            updates: vec![
                Update::Set("expires_at".into(), json!("2020-01-01T00:00:00Z")),
                Update::Set(
                    "gsi1sk".into(),
                    json!(format!("{:012}#{swept_id}", 1577836800)),
                ),
            ],
            cond: Cond::Exists,
        })
        .await
        .unwrap();
    assert!(
        sluice_core::app::uploads::sweep_expired(&ctx)
            .await
            .unwrap()
            >= 1
    );
    let (_, gone) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/uploads/{swept_id}"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(gone["status"], json!("FAILED"));
    // Completed uploads cannot be deleted; pending ones are canceled.
    let (s, _) = c
        .call(
            "DELETE",
            &format!("/v1/buckets/{bkt}/uploads/{upl}"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 409);
}
conformance!(upload_flow_on, upload_flow);

/// A bare HTTP/1.1 PUT (the stand-in S3 is plain HTTP on loopback); returns status and
/// the ETag header.
fn http_put(url: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, Option<String>) {
    use std::io::{Read, Write as _};
    let u = url::Url::parse(url).unwrap();
    let host = format!(
        "{}:{}",
        u.host_str().unwrap(),
        u.port_or_known_default().unwrap()
    );
    let mut conn = std::net::TcpStream::connect(&host).unwrap();
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    let mut req = format!(
        "PUT {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut resp = String::new();
    conn.read_to_string(&mut resp).unwrap();
    let status = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    let etag = resp
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("etag:"))
        .map(|l| l[5..].trim().to_string());
    (status, etag)
}

/// Presigned single and multipart PUTs against S3 (moto): the URLs work, and the
/// multipart calls join the parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_presigned_puts_on_moto() {
    let Some(ctx) = moto_ctx().await else { return };
    use sluice_core::ports::{PartRef, PutConstraints};
    let b = ctx.blobs.as_ref();
    let body = b"a presigned body".to_vec();
    let pinned = PutConstraints {
        content_type: Some("text/plain".into()),
        content_length: Some(body.len() as u64),
        ..Default::default()
    };
    let url = b
        .presign_put(
            "ns/bkt/uploads/upl_1/a.txt",
            &pinned,
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    let (status, _) = tokio::task::spawn_blocking(move || {
        http_put(&url, &body, &[("Content-Type", "text/plain")])
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        b.head("ns/bkt/uploads/upl_1/a.txt")
            .await
            .unwrap()
            .unwrap()
            .size,
        16
    );

    let key = "ns/bkt/uploads/upl_2/big.bin";
    let id = b
        .create_multipart(key, "application/octet-stream")
        .await
        .unwrap();
    let part_len = 5 * 1024 * 1024;
    let data: Vec<u8> = (0..part_len + 1000).map(|i| (i % 251) as u8).collect();
    let mut parts = Vec::new();
    for (n, chunk) in [(1u32, &data[..part_len]), (2, &data[part_len..])] {
        let pinned = PutConstraints {
            content_length: Some(chunk.len() as u64),
            part: Some(PartRef {
                multipart_id: id.clone(),
                number: n,
            }),
            ..Default::default()
        };
        let url = b
            .presign_put(key, &pinned, Duration::from_secs(300))
            .await
            .unwrap();
        let chunk = chunk.to_vec();
        let size = chunk.len() as u64;
        let (status, etag) = tokio::task::spawn_blocking(move || http_put(&url, &chunk, &[]))
            .await
            .unwrap();
        assert_eq!(status, 200);
        parts.push(sluice_core::ports::StoredPart {
            number: n,
            etag: etag.unwrap(),
            size,
        });
    }
    // (ListParts is not checked here: moto answers it with a <ListPartsResponse> root
    // that the SDK, like S3's schema, does not accept.)
    b.complete_multipart(key, &id, &parts).await.unwrap();
    assert_eq!(b.get(key).await.unwrap().unwrap().to_vec(), data);
    // Aborting a finished or unknown upload is harmless.
    b.abort_multipart(key, &id).await.unwrap();
}

/// The presigned-URL attacks on S3, as far as moto lets them be tested. moto checks
/// neither signatures nor expiry nor the signed length, type or checksum, so every PUT
/// below is accepted where S3 would refuse most of them. What is tested is what Sluice
/// itself guarantees after the store accepts: confirm refuses a file that is not the
/// declared one, and a late PUT to a finished upload's URL (which S3 too accepts until
/// the URL expires) never changes what the object reads and is removed on the store's
/// notice. Tamper, expiry, and a wrong type or a false `x-amz-checksum-sha256` header
/// are S3's to refuse and are not testable here; the local store's refusals of all of
/// them are in tests/e2e/test_uploads.py.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_presigned_attacks_on_moto() {
    use sha2::Digest;
    use sluice_core::app::uploads::on_stored;
    let Some(ctx) = moto_ctx().await else { return };
    let c = Client::new(ctx.clone()).await;
    let (ns, bkt) = c.space("attacks", json!({"body": {"type": "text"}})).await;
    let body = b"the declared file".to_vec();
    let sha = hex::encode(sha2::Sha256::digest(&body));
    let upload = |pinned: bool| {
        let mut req = json!({"filename": "n.txt", "content_type": "text/plain"});
        if pinned {
            req["file_size_bytes"] = json!(body.len());
            req["file_hash"] = json!(sha);
        }
        let c = &c;
        let (ns, bkt) = (ns.clone(), bkt.clone());
        async move {
            let (s, up) = c
                .call(
                    "POST",
                    &format!("/v1/buckets/{bkt}/uploads"),
                    Some(&ns),
                    Some(req),
                )
                .await;
            assert_eq!(s, 200, "{up}");
            let field = |f: &str| up[f].as_str().unwrap().to_string();
            (field("upload_id"), field("presigned_url"), field("s3_key"))
        }
    };
    let put = |url: String, bytes: Vec<u8>| async move {
        tokio::task::spawn_blocking(move || {
            http_put(&url, &bytes, &[("Content-Type", "text/plain")]).0
        })
        .await
        .unwrap()
    };
    let confirm = |id: String| {
        let c = &c;
        let (ns, bkt) = (ns.clone(), bkt.clone());
        async move {
            c.call(
                "POST",
                &format!("/v1/buckets/{bkt}/uploads/{id}/confirm"),
                Some(&ns),
                None,
            )
            .await
        }
    };
    let status_of = |id: String| {
        let c = &c;
        let (ns, bkt) = (ns.clone(), bkt.clone());
        async move {
            let (_, up) = c
                .call(
                    "GET",
                    &format!("/v1/buckets/{bkt}/uploads/{id}"),
                    Some(&ns),
                    None,
                )
                .await;
            up["status"].as_str().unwrap().to_string()
        }
    };

    // Longer than the signed length, and other bytes of the signed length sent without
    // the signed checksum header: moto stores both; confirm fails the upload, no object.
    for bytes in [[&body[..], b"!"].concat(), b"THE DECLARED FILE".to_vec()] {
        let (id, url, _) = upload(true).await;
        assert_eq!(
            put(url, bytes).await,
            200,
            "moto accepts what S3 would refuse"
        );
        let (s, e) = confirm(id.clone()).await;
        assert_eq!(s, 409, "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("does not match"),
            "{e}"
        );
        assert_eq!(status_of(id).await, "FAILED");
    }
    let (_, listed) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/objects/list"),
            Some(&ns),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        listed["results"],
        json!([]),
        "a refused file made an object"
    );

    // Replayed after confirm with other bytes (no size or hash declared, as a plain
    // `curl -T` upload): S3 and moto accept it; the object still reads what was
    // confirmed, and the notice of the late write removes it.
    let (id, url, key) = upload(false).await;
    assert_eq!(put(url.clone(), body.clone()).await, 200);
    let (s, done) = confirm(id).await;
    assert_eq!(s, 200, "{done}");
    let object_id = done["object_id"].as_str().unwrap().to_string();
    assert_eq!(put(url, b"replaced after confirm".to_vec()).await, 200);
    on_stored(&ctx, &key).await.unwrap();
    assert!(
        ctx.blobs.head(&key).await.unwrap().is_none(),
        "the late bytes stayed"
    );
    let (_, obj) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/objects/{object_id}"),
            Some(&ns),
            None,
        )
        .await;
    let read = obj["blobs"][0]["properties"]["storage_key"]
        .as_str()
        .unwrap();
    assert_ne!(read, key);
    assert_eq!(ctx.blobs.get(read).await.unwrap().unwrap().to_vec(), body);

    // After cancel: accepted, then removed on notice; nothing confirms it.
    let (id, url, key) = upload(false).await;
    let (s, _) = c
        .call(
            "DELETE",
            &format!("/v1/buckets/{bkt}/uploads/{id}"),
            Some(&ns),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(put(url, body.clone()).await, 200);
    on_stored(&ctx, &key).await.unwrap();
    assert!(ctx.blobs.head(&key).await.unwrap().is_none());
    assert_eq!(status_of(id.clone()).await, "CANCELED");
    assert_eq!(confirm(id).await.0, 409);
}

/// Delivers every message twice, as SQS may.
struct TwiceQueue(std::sync::Arc<dyn Queue>);

#[async_trait::async_trait]
impl Queue for TwiceQueue {
    async fn send(
        &self,
        queue: QueueName,
        bodies: Vec<String>,
        delay: Duration,
    ) -> StoreResult<()> {
        let doubled = bodies.iter().flat_map(|b| [b.clone(), b.clone()]).collect();
        self.0.send(queue, doubled, delay).await
    }
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<Received>> {
        self.0.receive(queue, max, visibility).await
    }
    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()> {
        self.0.ack(queue, receipt).await
    }
}

/// Records every event published (and passes it on).
struct RecordingBus(
    std::sync::Arc<dyn sluice_core::ports::EventBus>,
    std::sync::Mutex<Vec<sluice_core::ports::Event>>,
);

#[async_trait::async_trait]
impl sluice_core::ports::EventBus for RecordingBus {
    async fn publish(&self, events: Vec<sluice_core::ports::Event>) -> StoreResult<()> {
        self.1.lock().unwrap().extend(events.iter().cloned());
        self.0.publish(events).await
    }
}

async fn batch_flow(ctx: AppContext) {
    let bus = std::sync::Arc::new(RecordingBus(ctx.events.clone(), Default::default()));
    let ctx = AppContext {
        queue: std::sync::Arc::new(TwiceQueue(ctx.queue.clone())),
        events: bus.clone(),
        ..ctx
    };
    let c = Client::new(ctx.clone()).await;
    let (s, ns) = c
        .call("POST", "/v1/namespaces", None, Some(json!({"namespace_name": "batches", "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}]})))
        .await;
    assert_eq!(s, 200, "{ns}");
    let ns_id = ns["namespace_id"].as_str().unwrap().to_string();
    let (s, b) = c
        .call("POST", "/v1/buckets", Some(&ns_id), Some(json!({"bucket_name": "docs", "bucket_schema": {"properties": {"body": {"type": "text"}, "n": {"type": "integer"}}}})))
        .await;
    assert_eq!(s, 200, "{b}");
    let bkt = b["bucket_id"].as_str().unwrap().to_string();
    // The bus carries only the events of orgs with a webhook: a paused one, so the
    // events are published and none is delivered.
    let (s, wh) = c
        .call("POST", "/v1/organizations/webhooks", None, Some(json!({"webhook_name": "listener", "event_types": ["batch.completed"], "is_active": false, "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook"}}]})))
        .await;
    assert_eq!(s, 200, "{wh}");
    let mut objects: Vec<Value> = (0..30)
        .map(|i| json!({"blobs": [{"property": "body", "type": "text", "content": format!("text {i}")}], "metadata": {"n": i}}))
        .collect();
    // The SSRF guard refuses loopback: this one fails in the blob stage.
    objects.push(json!({"blobs": [{"property": "body", "type": "text", "url": "http://127.0.0.1:9/secret"}]}));
    let (s, r) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/objects/batch"),
            Some(&ns_id),
            Some(json!({"objects": objects})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let ids: Vec<String> = r["succeeded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["object_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 31, "{r}");

    // Objects of another bucket are refused by name.
    let (s, e) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches"),
            Some(&ns_id),
            Some(json!({"object_ids": [ids[0], "obj_nope"]})),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        e["error"]["details"]["missing_object_ids"],
        json!(["obj_nope"])
    );

    let (s, batch) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches"),
            Some(&ns_id),
            Some(json!({"object_ids": ids, "batch_name": "all"})),
        )
        .await;
    assert_eq!(s, 200, "{batch}");
    assert_eq!(batch["status"], json!("DRAFT"));
    let id = batch["batch_id"].as_str().unwrap().to_string();
    let (s, task) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches/{id}/submit"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 200, "{task}");
    // Illegal moves are 409s.
    for (method, suffix) in [("POST", "/submit"), ("DELETE", ""), ("POST", "/retry")] {
        let (s, e) = c
            .call(
                method,
                &format!("/v1/buckets/{bkt}/batches/{id}{suffix}"),
                Some(&ns_id),
                None,
            )
            .await;
        assert_eq!(s, 409, "{method} {suffix}: {e}");
    }
    let (s, _) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches/{id}/objects"),
            Some(&ns_id),
            Some(json!({"object_ids": [ids[0]]})),
        )
        .await;
    assert_eq!(s, 409);

    let batch_path = format!("/v1/buckets/{bkt}/batches/{id}");
    let get = || c.call("GET", &batch_path, Some(&ns_id), None);
    work_until(&ctx, async || {
        let (_, b) = get().await;
        b["status"] == json!("COMPLETED_WITH_ERRORS") && b["progress"]["total"] == json!(31)
    })
    .await;
    let (_, done) = get().await;
    assert_eq!(done["progress"]["processed"], json!(30), "{done}");
    assert_eq!(done["progress"]["objects_failed"], json!(1));
    assert_eq!(done["documents_written"], json!(30));
    assert_eq!(done["failed_objects"][0]["object_id"], json!(ids[30]));
    assert_eq!(done["failed_objects"][0]["stage"], json!("blob"));
    assert!(
        done["failed_objects"][0]["error"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{done}"
    );
    let (_, t) = c
        .call(
            "GET",
            &format!("/v1/tasks/{}", task["task_id"].as_str().unwrap()),
            None,
            None,
        )
        .await;
    assert_eq!(t["status"], json!("COMPLETED_WITH_ERRORS"));

    // Every chunk arrived twice: still one document per object, one event.
    let col = done["collection_ids"][0].as_str().unwrap().to_string();
    let (s, docs) = c
        .call(
            "POST",
            &format!("/v1/collections/{col}/documents/list"),
            Some(&ns_id),
            Some(json!({"limit": 100})),
        )
        .await;
    assert_eq!(s, 200, "{docs}");
    let docs = docs["results"].as_array().unwrap();
    assert_eq!(docs.len(), 30);
    let distinct: std::collections::HashSet<&str> = docs
        .iter()
        .map(|d| d["source_object_id"].as_str().unwrap())
        .collect();
    assert_eq!(distinct.len(), 30);
    assert!(docs.iter().any(|d| d["text"] == json!("text 7")));
    let (_, od) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/objects/{}/documents", ids[3]),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(od["results"][0]["metadata"], json!({"n": 3}));
    let batch_events = |bus: &RecordingBus| {
        bus.1
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.event_type.resource() == "batch")
            .count()
    };
    assert_eq!(batch_events(&bus), 1);

    // Retry runs only the failed object; it fails again, counts stay exact.
    let (s, r) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches/{id}/retry"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["retried_object_count"], json!(1));
    work_until(&ctx, async || {
        let (_, b) = get().await;
        b["status"] == json!("COMPLETED_WITH_ERRORS") && b["retry_count"] == json!(1)
    })
    .await;
    let (_, again) = get().await;
    assert_eq!(again["progress"]["processed"], json!(30));
    assert_eq!(again["progress"]["objects_failed"], json!(1));
    assert_eq!(batch_events(&bus), 2);
    let (_, results) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/batches/{id}/objects?limit=100"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(results["results"].as_array().unwrap().len(), 31);

    // Cancel: only before the end.
    let (s, _) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches/{id}/cancel"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 409);
}
conformance!(batch_flow_on, batch_flow);

/// A batch whose work never arrives is failed by the sweep, with a reason.
async fn stalled_batch(ctx: AppContext) {
    let ctx = AppContext {
        config: Config {
            batch_stall: Duration::from_secs(1),
            ..ctx.config.clone()
        },
        ..ctx
    };
    let c = Client::new(ctx.clone()).await;
    let (_, ns) = c
        .call("POST", "/v1/namespaces", None, Some(json!({"namespace_name": "stall", "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}]})))
        .await;
    let ns_id = ns["namespace_id"].as_str().unwrap().to_string();
    let (_, b) = c
        .call("POST", "/v1/buckets", Some(&ns_id), Some(json!({"bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}})))
        .await;
    let bkt = b["bucket_id"].as_str().unwrap().to_string();
    let (_, o) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/objects"),
            Some(&ns_id),
            Some(json!({"blobs": [{"property": "body", "type": "text", "content": "x"}]})),
        )
        .await;
    let (s, batch) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/batches"),
            Some(&ns_id),
            Some(json!({"object_ids": [o["object_id"]], "auto_submit": true})),
        )
        .await;
    assert_eq!(s, 200, "{batch}");
    let path = format!(
        "/v1/buckets/{bkt}/batches/{}",
        batch["batch_id"].as_str().unwrap()
    );
    // Its chunk is lost (nobody works the queue); past the stall time it is reported...
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, b) = c.call("GET", &path, Some(&ns_id), None).await;
    assert_eq!(b["status"], json!("QUEUED"));
    assert_eq!(b["health"], json!("STALLED"), "{b}");
    // ...and the sweep fails it, saying why.
    sluice_core::jobs::sweep(&ctx).await.unwrap();
    let (_, b) = c.call("GET", &path, Some(&ns_id), None).await;
    assert_eq!(b["status"], json!("FAILED"), "{b}");
    assert!(
        b["failure_reason"]
            .as_str()
            .unwrap()
            .contains("no progress"),
        "{b}"
    );
}
conformance!(stalled_batch_on, stalled_batch);

/// A sync over in-memory storage, through the routes and the workers: the manifest's
/// key-range queries, the index of due syncs, sealed credentials (KMS on moto) and the
/// page-once saves on each backend.
async fn sync_flow(ctx: AppContext) {
    let storage = std::sync::Arc::new(sluice_core::testing::MemoryStorage::default());
    let sealer = ctx.sealer.clone();
    let ctx = ctx.with_connectors(
        std::sync::Arc::new(sluice_core::testing::MemoryConnectors(storage.clone())),
        sealer,
    );
    for i in 0..30 {
        storage.put("src", &format!("in/{i:02}.txt"), format!("file {i}"));
    }
    let c = Client::new(ctx.clone()).await;
    let (s, ns) = c
        .call(
            "POST",
            "/v1/namespaces",
            None,
            Some(json!({"namespace_name": "syncs"})),
        )
        .await;
    assert_eq!(s, 200, "{ns}");
    let ns_id = ns["namespace_id"].as_str().unwrap().to_string();
    let (s, b) = c
        .call("POST", "/v1/buckets", Some(&ns_id), Some(json!({"bucket_name": "docs", "bucket_schema": {"properties": {"body": {"type": "text"}}}})))
        .await;
    assert_eq!(s, 200, "{b}");
    let bkt = b["bucket_id"].as_str().unwrap().to_string();
    let (s, conn) = c
        .call("POST", "/v1/organizations/connections", None, Some(json!({
            "name": "memory", "provider_type": "s3",
            "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIACONF", "secret_access_key": "conformance-secret"}},
        })))
        .await;
    assert_eq!(s, 200, "{conn}");
    assert!(!conn.to_string().contains("conformance-secret"));
    let (s, sync) = c
        .call("POST", &format!("/v1/buckets/{bkt}/syncs"), Some(&ns_id), Some(json!({
            "connection_id": conn["connection_id"], "source_path": "src/in/", "skip_batch_submission": true,
        })))
        .await;
    assert_eq!(s, 200, "{sync}");
    let sid = sync["sync_config_id"].as_str().unwrap().to_string();
    // Due at once: the scheduled poller starts it (through the index of due syncs).
    assert_eq!(
        sluice_core::app::syncs::engine::poll(&ctx).await.unwrap(),
        1
    );
    let job_path = |job: &str| format!("/v1/buckets/{bkt}/syncs/{sid}/jobs/{job}");
    let finished = |job: String| {
        let c = &c;
        let ns_id = ns_id.clone();
        let path = job_path(&job);
        async move {
            let (_, j) = c.call("GET", &path, Some(&ns_id), None).await;
            (j["status"] != "running").then_some(j)
        }
    };
    let (_, jobs) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/syncs/{sid}/jobs"),
            Some(&ns_id),
            Some(json!({})),
        )
        .await;
    let first_id = jobs["results"][0]["sync_job_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first = None;
    work_until(&ctx, async || {
        first = finished(first_id.clone()).await;
        first.is_some()
    })
    .await;
    let first = first.unwrap();
    assert_eq!(
        (first["status"].as_str(), first["counts"]["new"].as_i64()),
        (Some("completed"), Some(30)),
        "{first}"
    );

    storage.put("src", "in/03.txt", "changed");
    storage.remove("src", "in/29.txt");
    storage.put("src", "in/30.txt", "new");
    let (s, t) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/syncs/{sid}/trigger"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 200, "{t}");
    let second_id = t["sync_job_id"].as_str().unwrap().to_string();
    let mut second = None;
    work_until(&ctx, async || {
        second = finished(second_id.clone()).await;
        second.is_some()
    })
    .await;
    let counts = &second.unwrap()["counts"];
    assert_eq!(
        (
            counts["new"].as_i64(),
            counts["modified"].as_i64(),
            counts["deleted"].as_i64(),
            counts["unchanged"].as_i64()
        ),
        (Some(1), Some(1), Some(1), Some(28)),
        "{counts}"
    );
    let (_, bucket) = c
        .call("GET", &format!("/v1/buckets/{bkt}"), Some(&ns_id), None)
        .await;
    assert_eq!(bucket["object_count"], 30);
}
conformance!(sync_flow_on, sync_flow);
