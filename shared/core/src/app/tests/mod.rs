//! Use cases on in-memory ports (`crate::testing`): the logic of objects, uploads,
//! batches, webhooks and purge, with no SQLite and no moto. The conformance suite in
//! `tests/backend` proves the real backends behave as these ports do.

mod batches;
mod documents;
mod external_ids;
mod layers;
mod objects;
mod purge;
mod syncs;
mod uploads;
mod webhooks;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::app::{auth, buckets, namespaces};
use crate::domain::entities::{Bucket, Namespace};
use crate::testing::Memory;

/// A request type from its JSON, as a handler would parse it.
pub fn parse<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("test request parses")
}

/// An org, a namespace with the passthrough extractor, and a bucket with a text
/// property `body` and an integer `n`.
pub async fn space(m: &Memory) -> (Namespace, Bucket) {
    space_with(
        m,
        json!({"properties": {"body": {"type": "text"}, "n": {"type": "integer"}}}),
        None,
    )
    .await
}

pub async fn space_with(
    m: &Memory,
    schema: Value,
    unique_key: Option<Value>,
) -> (Namespace, Bucket) {
    let org = auth::create_org(&m.ctx, "test").await.unwrap();
    let ns = namespaces::create(
        &m.ctx,
        &org.org_id,
        parse(json!({
            "namespace_name": "space",
            "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}],
        })),
    )
    .await
    .unwrap();
    let mut bucket = json!({"bucket_name": "items", "bucket_schema": schema});
    if let Some(u) = unique_key {
        bucket["unique_key"] = u;
    }
    let bucket = buckets::create(&m.ctx, &ns, parse(bucket)).await.unwrap();
    (ns, bucket)
}

/// `n` text objects in the bucket (bodies `d0`, `d1`, …); their ids.
pub async fn text_objects(m: &Memory, bucket: &Bucket, n: usize) -> Vec<String> {
    let requests = (0..n)
        .map(|i| Ok(parse(json!({"blobs": [{"property": "body", "type": "text", "content": format!("d{i}")}]}))))
        .collect();
    crate::app::objects::create_many(
        &m.ctx,
        bucket,
        requests,
        crate::app::objects::Policy::Insert,
        None,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.unwrap().0.object_id)
    .collect()
}

/// The bucket as stored now (its counters move with each write).
pub async fn reload(m: &Memory, ns: &Namespace, bucket: &Bucket) -> Bucket {
    buckets::resolve(&m.ctx, ns, &bucket.bucket_id)
        .await
        .unwrap()
}

/// A paused webhook in the org: its events go on the bus, which carries only the events
/// of orgs that have a webhook, and none is delivered.
pub async fn listen(m: &Memory, org_id: &str) {
    crate::app::webhooks::create(
        &m.ctx,
        org_id,
        parse(json!({
            "webhook_name": "listener", "event_types": ["object.created"], "is_active": false,
            "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook"}}],
        })),
    )
    .await
    .unwrap();
}
