//! Upload throughput: 1 000 × 1 MB files through sluice-local (create → PUT → confirm)
//! as a ratio to plain presigned PUTs of the same files to the same local store.
//! Usage: p5_uploads <path to sluice-local> [--files N] [--size BYTES]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use sluice_backend_local::LocalBlobStore;
use sluice_core::ports::{BlobStore, PutConstraints};
use sluice_bench::{arg, namespace_and_bucket, start_local};

const CONCURRENCY: usize = 4;
const CONTENT_TYPE: &str = "application/octet-stream";

/// Runs `work(i)` for files `range` on `CONCURRENCY` workers; returns the wall time.
async fn timed<F, Fut>(range: std::ops::Range<usize>, work: Arc<F>) -> anyhow::Result<Duration>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..CONCURRENCY {
        let work = work.clone();
        let range = range.clone();
        workers.push(tokio::spawn(async move {
            for i in (range.start + w..range.end).step_by(CONCURRENCY) {
                work(i).await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/sluice-local".into());
    let files = arg("--files", 1000);
    let size = arg("--size", 1024 * 1024);
    let dir = tempfile::tempdir()?;
    let key = "sk_bench_0123456789abcdef0123456789";
    let server = start_local(&binary, dir.path(), key).await?;
    let http = reqwest::Client::new();
    let auth = format!("Bearer {key}");
    let (ns_id, bkt) = namespace_and_bucket(
        &http,
        &server.url,
        &auth,
        json!({"file": {"type": "binary"}}),
    )
    .await?;
    let data: Arc<Vec<Bytes>> = Arc::new(
        (0..files)
            .map(|i| {
                Bytes::from(
                    (0..size)
                        .map(|j| ((i * 31 + j * 7) % 251) as u8)
                        .collect::<Vec<u8>>(),
                )
            })
            .collect(),
    );

    // Baseline: presigned PUTs of the same files to the same store (same signing key),
    // under keys laid out like uploads but outside `uploads/`, so only the store works.
    let store = LocalBlobStore::open(&dir.path().join("blobs"), &server.url)?;
    let mut urls = Vec::with_capacity(files);
    for i in 0..files {
        let pinned = PutConstraints {
            content_type: Some(CONTENT_TYPE.into()),
            content_length: Some(size as u64),
            sha256: None,
            part: None,
        };
        // The same layout as upload keys (a folder per file), outside `uploads/`.
        let key = format!("{ns_id}/{bkt}/plain/upl_{i:06}/f{i}.bin");
        urls.push(
            store
                .presign_put(&key, &pinned, Duration::from_secs(3600))
                .await?,
        );
    }
    let urls = Arc::new(urls);
    let (h, d, u) = (http.clone(), data.clone(), urls.clone());
    let plain_put = Arc::new(move |i: usize| {
        let (h, d, u) = (h.clone(), d.clone(), u.clone());
        async move {
            let r = h
                .put(&u[i])
                .header("content-type", CONTENT_TYPE)
                .body(d[i].clone())
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "plain PUT {}", r.status());
            Ok(())
        }
    });

    let base = format!("{}/v1/buckets/{bkt}/uploads", server.url);
    let (h, d) = (http.clone(), data.clone());
    let sluice_upload = Arc::new(move |i: usize| {
        let (h, d, base, auth, ns_id) = (
            h.clone(),
            d.clone(),
            base.clone(),
            auth.clone(),
            ns_id.clone(),
        );
        async move {
            let up: Value = h
                .post(&base)
                .header("authorization", &auth)
                .header("x-namespace", &ns_id)
                .json(&json!({"filename": format!("f{i}.bin"), "content_type": CONTENT_TYPE, "file_size_bytes": d[i].len()}))
                .send()
                .await?
                .json()
                .await?;
            let url = up["presigned_url"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("no URL: {up}"))?;
            let r = h
                .put(url)
                .header("content-type", CONTENT_TYPE)
                .body(d[i].clone())
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "upload PUT {}", r.status());
            let done: Value = h
                .post(format!(
                    "{base}/{}/confirm",
                    up["upload_id"].as_str().unwrap()
                ))
                .header("authorization", &auth)
                .header("x-namespace", &ns_id)
                .send()
                .await?
                .json()
                .await?;
            anyhow::ensure!(done["status"] == "COMPLETED", "confirm: {done}");
            Ok(())
        }
    });
    // Interleaved rounds, so the page cache's write-back weighs on both sides alike.
    let (mut plain, mut sluice) = (Duration::ZERO, Duration::ZERO);
    let round = files.div_ceil(10).max(1);
    for start in (0..files).step_by(round) {
        let range = start..(start + round).min(files);
        plain += timed(range.clone(), plain_put.clone()).await?;
        sluice += timed(range, sluice_upload.clone()).await?;
    }
    let rate = |d: Duration| files as f64 / d.as_secs_f64();
    println!(
        "Uploads ({files} x {} KiB, {CONCURRENCY} connections): create+PUT+confirm {:.0} files/s, plain PUT {:.0} files/s, ratio {:.2} (target >= 0.70)",
        size / 1024,
        rate(sluice),
        rate(plain),
        rate(sluice) / rate(plain)
    );
    Ok(())
}
