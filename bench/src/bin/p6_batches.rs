//! P6: 1 000 small text objects through a batch on the release `sluice-local`
//! (passthrough_extractor; submit → COMPLETED, polled), as a ratio to the blob stage's
//! compute alone (fetch from the same blob store, sniff, hash: `extract::fetch_blob`)
//! over the same objects, in the same run, with the worker's concurrency.
//! usage: p6_batches <path to sluice-local> [--objects N] [--runs N]

use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use serde_json::{json, Value};
use sluice_core::domain::entities::Blob;
use sluice_core::app::extract;
use sluice_bench::{arg, start_local};

async fn post(
    http: &reqwest::Client,
    url: &str,
    auth: &str,
    ns: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut req = http.post(url).header("authorization", auth).json(&body);
    if let Some(ns) = ns {
        req = req.header("x-namespace", ns);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let value: Value = resp.json().await?;
    anyhow::ensure!(status.is_success(), "{url}: {value}");
    Ok(value)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = std::env::args()
        .nth(1)
        .expect("usage: p6_batches <sluice-local> [--objects N] [--runs N]");
    let objects = arg("--objects", 1000);
    let runs = arg("--runs", 3);
    let dir = tempfile::tempdir()?;
    let key = "sk_bench_0123456789abcdef0123456789".to_string();
    let server = start_local(&binary, dir.path(), &key).await?;
    let (http, auth, url) = (
        reqwest::Client::new(),
        format!("Bearer {key}"),
        server.url.clone(),
    );
    let ns = post(&http, &format!("{url}/v1/namespaces"), &auth, None, json!({
        "namespace_name": "p6-bench",
        "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}],
    }))
    .await?;
    let ns = ns["namespace_id"].as_str().unwrap().to_string();
    let bucket = post(&http, &format!("{url}/v1/buckets"), &auth, Some(&ns), json!({
        "bucket_name": "p6-bench", "bucket_schema": {"properties": {"body": {"type": "text"}, "n": {"type": "integer"}}},
    }))
    .await?;
    let bkt = bucket["bucket_id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    let mut blobs: Vec<Blob> = Vec::new();
    for start in (0..objects).step_by(100) {
        let batch: Vec<Value> = (start..(start + 100).min(objects))
            .map(|i| json!({"blobs": [{"property": "body", "type": "text", "content": format!("small text document number {i}, a sentence or two long.")}], "metadata": {"n": i}}))
            .collect();
        let r = post(
            &http,
            &format!("{url}/v1/buckets/{bkt}/objects/batch"),
            &auth,
            Some(&ns),
            json!({"objects": batch}),
        )
        .await?;
        for o in r["succeeded"].as_array().unwrap() {
            ids.push(o["object_id"].as_str().unwrap().to_string());
            blobs.push(serde_json::from_value(o["blobs"][0].clone())?);
        }
    }
    anyhow::ensure!(
        ids.len() == objects,
        "registered {} of {objects}",
        ids.len()
    );

    // The blob stage alone, on the server's own blob store.
    let (ctx, _) = sluice_backend_local::context(
        &dir.path().join("bench-reader"),
        &url,
        sluice_core::Config::default(),
    )?;
    let store = sluice_backend_local::LocalBlobStore::open(&dir.path().join("blobs"), &url)?;
    let ctx = sluice_core::AppContext {
        blobs: std::sync::Arc::new(store),
        ..ctx
    };

    let mut pipeline = Vec::new();
    let mut stage = Vec::new();
    for run in 0..runs {
        let started = Instant::now();
        let fetched: Vec<_> = stream::iter(blobs.iter().map(|b| extract::fetch_blob(&ctx, b)))
            .buffered(8)
            .collect()
            .await;
        anyhow::ensure!(fetched.iter().all(Result::is_ok), "blob stage failed");
        stage.push(started.elapsed());

        let started = Instant::now();
        let batch = post(
            &http,
            &format!("{url}/v1/buckets/{bkt}/batches"),
            &auth,
            Some(&ns),
            json!({"object_ids": ids, "auto_submit": true}),
        )
        .await?;
        let path = format!(
            "{url}/v1/buckets/{bkt}/batches/{}",
            batch["batch_id"].as_str().unwrap()
        );
        loop {
            let b: Value = http
                .get(&path)
                .header("authorization", &auth)
                .header("x-namespace", &ns)
                .send()
                .await?
                .json()
                .await?;
            match b["status"].as_str() {
                Some("COMPLETED") => {
                    anyhow::ensure!(b["progress"]["processed"] == json!(objects), "{b}");
                    break;
                }
                Some("QUEUED" | "PROCESSING") => tokio::time::sleep(Duration::from_millis(5)).await,
                _ => anyhow::bail!("batch ended badly: {b}"),
            }
        }
        pipeline.push(started.elapsed());
        println!(
            "  run {run}: batch {:?}, blob stage {:?}",
            pipeline[run], stage[run]
        );
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default();
    let (p, s) = (best(&pipeline), best(&stage));
    println!(
        "P6 {objects} small text objects: submit → COMPLETED {:.0} ms, blob stage alone {:.0} ms: ratio {:.2} (target ≤ 1.25; best of {runs})",
        p.as_secs_f64() * 1000.0,
        s.as_secs_f64() * 1000.0,
        p.as_secs_f64() / s.as_secs_f64()
    );
    Ok(())
}
