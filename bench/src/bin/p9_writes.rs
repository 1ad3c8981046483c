//! Single-object write throughput and latency on the release `sluice-local`, and the disk
//! a tiny object takes.
//!
//! - **P9**: `POST /v1/buckets/{b}/objects` (one tiny inline text object a request) and
//!   `GET` of an object, at 1 and 32 connections, against the same server's public
//!   `GET /v1/collections/features/extractors` (no key, no store) measured in the same
//!   run at the same concurrency. Target: creates ≥ 0.10 of the baseline at 32
//!   connections, with p99 ≤ 20 ms.
//! - **P10**: bytes on disk per tiny object (the data dir's allocated blocks, WAL
//!   included, after `--objects` creates) beyond the object's own bytes, against the JSON
//!   of the object's view as the server returns it. Target ≤ 1 536 bytes.
//!
//! Usage: p9_writes <path to sluice-local> [--seconds S] [--objects N]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sluice_bench::{arg, namespace_and_bucket, start_local};

struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Sends `request(i)` from `connections` workers for `seconds`; each must answer `want`.
async fn load<F>(connections: usize, seconds: u64, want: u16, request: Arc<F>) -> anyhow::Result<Run>
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (next, request) = (next.clone(), request.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let r = request(i).send().await?;
                let status = r.status().as_u16();
                let body = r.bytes().await?;
                anyhow::ensure!(
                    status == want,
                    "request {i}: {status} {}",
                    String::from_utf8_lossy(&body)
                );
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await??);
    }
    let elapsed = started.elapsed();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)].as_secs_f64() * 1e3;
    Ok(Run {
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    })
}

/// Bytes the files under `dir` occupy on disk (allocated blocks, not lengths).
fn disk_usage(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = entry.metadata() else { continue };
            total += m.blocks() * 512;
            if m.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/sluice-local".into());
    let seconds = arg("--seconds", 5) as u64;
    let objects = arg("--objects", 20_000);
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("data");
    let key = "sk_bench_0123456789abcdef0123456789";
    let server = start_local(&binary, &data_dir, key).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let auth = format!("Bearer {key}");
    let (ns_id, bkt) =
        namespace_and_bucket(&http, &server.url, &auth, json!({"body": {"type": "text"}})).await?;

    let url = server.url.clone();
    let (h, u) = (http.clone(), url.clone());
    let baseline = Arc::new(move |_: usize| {
        h.get(format!(
            "{u}/v1/collections/features/extractors"
        ))
    });
    let objects_url = format!("{url}/v1/buckets/{bkt}/objects");
    let (h, o, a, n) = (http.clone(), objects_url.clone(), auth.clone(), ns_id.clone());
    let create = Arc::new(move |i: usize| {
        h.post(&o)
            .header("authorization", &a)
            .header("x-namespace", &n)
            .json(&json!({"blobs": [{"property": "body", "type": "text", "content": format!("tiny object {i}")}]}))
    });
    // One object to read back, and its view's JSON as the disk figure's yardstick.
    let view: Value = create(usize::MAX).send().await?.json().await?;
    let object_id = view["object_id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("create: {view}"))?
        .to_string();
    let (h, o, a, n) = (http.clone(), objects_url.clone(), auth.clone(), ns_id.clone());
    let read = Arc::new(move |_: usize| {
        h.get(format!("{o}/{object_id}"))
            .header("authorization", &a)
            .header("x-namespace", &n)
    });

    // Warm up every path (connections, prepared statements, page cache).
    load(8, 1, 200, baseline.clone()).await?;
    load(8, 1, 200, create.clone()).await?;
    load(8, 1, 200, read.clone()).await?;
    for connections in [1, 32] {
        let base = load(connections, seconds, 200, baseline.clone()).await?;
        let writes = load(connections, seconds, 200, create.clone()).await?;
        let reads = load(connections, seconds, 200, read.clone()).await?;
        println!(
            "{}",
            json!({
                "P9": format!("single-object create / GET vs public GET, {connections} connections, {seconds} s each"),
                "baseline_per_s": base.per_second.round(),
                "baseline_p99_ms": (base.p99_ms * 100.0).round() / 100.0,
                "create_per_s": writes.per_second.round(),
                "create_p50_ms": (writes.p50_ms * 100.0).round() / 100.0,
                "create_p99_ms": (writes.p99_ms * 100.0).round() / 100.0,
                "create_ratio": (writes.per_second / base.per_second * 1000.0).round() / 1000.0,
                "get_per_s": reads.per_second.round(),
                "get_p99_ms": (reads.p99_ms * 100.0).round() / 100.0,
                "get_ratio": (reads.per_second / base.per_second * 1000.0).round() / 1000.0,
                "target": if connections == 32 { "create_ratio >= 0.10, create_p99_ms <= 20" } else { "" },
            })
        );
    }

    // P10 on a fresh data dir, so the figure is of `objects` creates and nothing else.
    drop(server);
    let disk_dir = dir.path().join("disk");
    let server = start_local(&binary, &disk_dir, key).await?;
    let (ns_id, bkt) =
        namespace_and_bucket(&http, &server.url, &auth, json!({"body": {"type": "text"}})).await?;
    let before = disk_usage(&disk_dir);
    let objects_url = format!("{}/v1/buckets/{bkt}/objects", server.url);
    let (h, a, n) = (http.clone(), auth.clone(), ns_id.clone());
    let made = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (h, a, n, o, made) = (h.clone(), a.clone(), n.clone(), objects_url.clone(), made.clone());
        workers.push(tokio::spawn(async move {
            for i in (w..objects).step_by(8) {
                let r = h
                    .post(&o)
                    .header("authorization", &a)
                    .header("x-namespace", &n)
                    .json(&json!({"blobs": [{"property": "body", "type": "text", "content": format!("tiny object {i:08}")}]}))
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "create {i}: {}", r.status());
                made.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    // Let the batch-less server settle (the checkpointer and any event deliveries).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = disk_usage(&disk_dir);
    let content = "tiny object 00000000".len() as f64;
    let per_object = (after - before) as f64 / objects as f64 - content;
    let view_json = serde_json::to_vec(&view)?.len() as f64;
    println!(
        "{}",
        json!({
            "P10": format!("bytes on disk per tiny inline object beyond its {content} bytes, {objects} objects"),
            "per_object_bytes": per_object.round(),
            "object_view_json_bytes": view_json,
            "ratio_to_view_json": (per_object / view_json * 100.0).round() / 100.0,
            "target": "per_object_bytes <= 1536",
        })
    );
    Ok(())
}
