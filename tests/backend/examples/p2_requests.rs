//! P2: billed DynamoDB + SQS + EventBridge requests per object, for register → batch →
//! processed → completed, counted at the endpoint: a proxy in front of moto
//! (`AWS_ENDPOINT_URL`) sees every request the AWS adapters make. EventBridge bills per
//! event entry and its rule sends each event to the webhooks queue (one SQS request
//! more, made inside moto), so both are counted per entry. S3 (the blob bytes) is not
//! counted. Request counts do not depend on the build profile, so this runs in dev.
//!
//! usage: AWS_ENDPOINT_URL=http://127.0.0.1:<moto> cargo run -p sluice --example p2_requests -- [--objects N]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use sluice_api::{Router, ROUTES};
use sluice_core::app::auth;
use sluice_core::ports::QueueName;
use sluice_core::{AppContext, Config};
use support::{call, forward, Proxy};

const BATCH: usize = 100;

/// Works the batch and webhook queues in-process, as the Lambda event sources would.
async fn work(ctx: &AppContext) -> usize {
    let mut handled = 0;
    for q in [QueueName::Batches, QueueName::Webhooks] {
        let messages = ctx
            .queue
            .receive(q, 10, Duration::from_secs(30))
            .await
            .expect("receive");
        for m in messages {
            if sluice_core::jobs::handle(ctx, q, &m.body, m.receive_count)
                .await
                .is_ok()
            {
                ctx.queue.ack(q, &m.receipt).await.expect("ack");
            }
            handled += 1;
        }
    }
    handled
}

fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts
        .iter()
        .filter(|(k, _)| k.starts_with("dynamodb") || k.starts_with("sqs") || k.as_str() == "events entries")
        .map(|(_, v)| v)
        .sum::<u64>()
        // Each event entry is also one SQS send by the rule (inside moto, not seen here).
        + counts.get("events entries").copied().unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let objects: usize = std::env::args()
        .skip_while(|a| a != "--objects")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let upstream = std::env::var("AWS_ENDPOINT_URL")
        .map_err(|_| anyhow::anyhow!("set AWS_ENDPOINT_URL to a moto server"))?;
    let proxy = Proxy {
        upstream,
        http: reqwest::Client::new(),
        counts: Default::default(),
        s3_label: |_| "s3 (not counted)".into(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy_url = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    // SAFETY: set before any other thread reads the environment.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL", &proxy_url) };

    let sdk = sluice_backend_aws::sdk_config().await;
    let prefix = format!(
        "p2-{}",
        sluice_core::domain::ids::IdKind::Job
            .new_id()
            .replace('_', "-")
    );
    let names = sluice_backend_aws::provision(&sdk, &prefix).await?;
    let ctx =
        sluice_backend_aws::context_from(&sdk, names, Config::from_env().expect("configuration"));
    let router = Router::new(&ROUTES);
    let key = auth::generate_key();
    auth::ensure_key(&ctx, "p2", &key).await?;
    let ns = call(&ctx, &router, &key, "POST", "/v1/namespaces", None, Some(json!({"namespace_name": "p2-bench", "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}]}))).await;
    let ns_id = ns["namespace_id"].as_str().unwrap().to_string();
    let bucket = call(&ctx, &router, &key, "POST", "/v1/buckets", Some(&ns_id), Some(json!({"bucket_name": "p2-bench", "bucket_schema": {"properties": {"body": {"type": "text"}, "n": {"type": "integer"}}}}))).await;
    let bkt = bucket["bucket_id"].as_str().unwrap().to_string();
    while work(&ctx).await > 0 {}
    proxy.counts.lock().unwrap().clear();

    // Register, in requests of 100.
    let mut ids = Vec::new();
    for start in (0..objects).step_by(BATCH) {
        let batch: Vec<Value> = (start..(start + BATCH).min(objects))
            .map(|i| json!({"blobs": [{"property": "body", "type": "text", "content": format!("document {i}")}], "metadata": {"n": i}}))
            .collect();
        let r = call(
            &ctx,
            &router,
            &key,
            "POST",
            &format!("/v1/buckets/{bkt}/objects/batch"),
            Some(&ns_id),
            Some(json!({"objects": batch})),
        )
        .await;
        assert_eq!(r["failed_count"], json!(0), "{r}");
        ids.extend(
            r["succeeded"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["object_id"].as_str().unwrap().to_string()),
        );
    }
    let registered = proxy.counts.lock().unwrap().clone();

    // Batches of 100, submitted on creation; worked to the end.
    let mut batch_ids = Vec::new();
    for chunk in ids.chunks(BATCH) {
        let b = call(
            &ctx,
            &router,
            &key,
            "POST",
            &format!("/v1/buckets/{bkt}/batches"),
            Some(&ns_id),
            Some(json!({"object_ids": chunk, "auto_submit": true})),
        )
        .await;
        batch_ids.push(b["batch_id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut idle = 0;
    while idle < 3 {
        if work(&ctx).await == 0 {
            idle += 1;
        } else {
            idle = 0;
        }
    }
    let counts = proxy.counts.lock().unwrap().clone();
    // Checked outside the counts: every batch ended, every object processed once.
    for id in &batch_ids {
        let b = call(
            &ctx,
            &router,
            &key,
            "GET",
            &format!("/v1/buckets/{bkt}/batches/{id}"),
            Some(&ns_id),
            None,
        )
        .await;
        assert_eq!(b["status"], json!("COMPLETED"), "{b}");
        assert_eq!(b["progress"]["processed"], json!(BATCH.min(objects)));
    }

    println!("P2 billed requests, {objects} objects in batches of {BATCH} (moto, counted at the endpoint):");
    for (k, v) in &counts {
        println!("  {k:<40} {v}");
    }
    let reg = total(&registered);
    let all = total(&counts);
    println!(
        "  register only: {reg} requests = {:.3} per object",
        reg as f64 / objects as f64
    );
    println!("  register → batch → processed → completed: {all} requests = {:.3} per object (target ≤ 1.0)", all as f64 / objects as f64);
    Ok(())
}
