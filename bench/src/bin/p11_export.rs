//! P11: a collection export on the release `sluice-local` holds one shard in memory, not
//! the collection. The server's resident memory is sampled every 5 ms while it exports
//! 100 000 documents (ten shards of 10 000), and while it exports the first 10 000 of
//! them (one shard: the baseline, same run, same server): the figure is the ratio of the
//! two peaks above the idle server, 1 when memory does not grow with the export.
//! usage: p11_export <path to sluice-local> [--documents N]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sluice_bench::{arg, start_local};

async fn call(http: &reqwest::Client, url: &str, auth: &str, ns: Option<&str>, body: Value) -> anyhow::Result<Value> {
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

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// The export's answer, its time, and the server's peak resident memory meanwhile.
async fn export(http: &reqwest::Client, url: &str, auth: &str, ns: &str, col: &str, sample: Option<usize>, pid: u32)
    -> anyhow::Result<(Value, Duration, u64)> {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            peak = peak.max(rss_kib(pid));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        peak
    });
    let t0 = Instant::now();
    let body = match sample {
        Some(n) => json!({"sample_size": n}),
        None => json!({}),
    };
    let out = call(http, &format!("{url}/v1/collections/{col}/export"), auth, Some(ns), body).await?;
    let took = t0.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok((out, took, sampler.await?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = std::env::args().nth(1).expect("usage: p11_export <sluice-local> [--documents N]");
    let documents = arg("--documents", 100_000);
    let dir = tempfile::tempdir()?;
    let key = "sk_bench_0123456789abcdef0123456789".to_string();
    let server = start_local(&binary, dir.path(), &key).await?;
    let pid = server.child.id().expect("running");
    let (http, auth, url) = (reqwest::Client::new(), format!("Bearer {key}"), server.url.clone());
    let ns = call(&http, &format!("{url}/v1/namespaces"), &auth, None, json!({
        "namespace_name": "p11-bench",
        "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}],
    }))
    .await?;
    let ns = ns["namespace_id"].as_str().unwrap().to_string();
    let cols: Value = http.get(format!("{url}/v1/collections")).header("authorization", &auth)
        .header("x-namespace", &ns).send().await?.json().await?;
    let col = cols["results"][0]["collection_id"].as_str().unwrap().to_string();
    let mapping = json!({"fields": [
        {"source_field": "body", "target": {"kind": "metadata", "path": "text"}},
        {"source_field": "n", "target": {"kind": "metadata", "path": "metadata.n"}},
    ]});
    let t0 = Instant::now();
    for start in (0..documents).step_by(1000) {
        let rows: Vec<Value> = (start..(start + 1000).min(documents))
            .map(|n| json!({"body": format!("document {n}: a line of text that stands for what an extractor wrote"), "n": n}))
            .collect();
        let out = call(&http, &format!("{url}/v1/collections/{col}/import"), &auth, Some(&ns),
            json!({"mapping": mapping, "rows": rows})).await?;
        anyhow::ensure!(out["errors"].as_array().is_none_or(|e| e.is_empty()), "import: {out}");
    }
    eprintln!("imported {documents} documents in {:.1} s", t0.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(pid);
    let (small, small_took, small_peak) = export(&http, &url, &auth, &ns, &col, Some(documents / 10), pid).await?;
    let (whole, whole_took, whole_peak) = export(&http, &url, &auth, &ns, &col, None, pid).await?;
    anyhow::ensure!(whole["document_count"] == json!(documents), "export: {whole}");
    let above = |peak: u64| peak.saturating_sub(idle).max(1);
    println!(
        "P11 export: {documents} documents in {} shards ({:.1} MiB) in {:.2} s, peak RSS {:.1} MiB above idle ({:.1} MiB); \
         baseline {} documents in {:.2} s, peak {:.1} MiB above idle; ratio {:.2} (target ≤ 1.5: memory does not grow with the export)",
        whole["shard_count"], whole["file_size_bytes"].as_f64().unwrap_or(0.0) / 1048576.0, whole_took.as_secs_f64(),
        above(whole_peak) as f64 / 1024.0, idle as f64 / 1024.0, small["document_count"], small_took.as_secs_f64(),
        above(small_peak) as f64 / 1024.0, above(whole_peak) as f64 / above(small_peak) as f64,
    );
    Ok(())
}
