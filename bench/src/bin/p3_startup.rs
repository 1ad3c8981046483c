//! P3: a route binary's stripped release size and start-to-ready time, as ratios to a
//! bare `lambda_http` hello world built the same way, in the same run.
//!
//! "Ready" is the moment the binary first asks a (fake, loopback) Lambda Runtime API
//! for an invocation: everything a cold start does before serving is behind it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const RUNS: usize = 25;

/// Starts `binary` against a fake runtime API; returns (time to ready, RSS at ready in KiB).
async fn start_to_ready(binary: &str) -> anyhow::Result<(Duration, u64)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("SLUICE_TABLE", "bench-table")
        .env("SLUICE_BUCKET", "bench-bucket")
        .env("SLUICE_EVENT_BUS", "bench-bus")
        .env("SLUICE_VECTOR_BUCKET", "bench-vectors")
        .env("SLUICE_TASKS_QUEUE_URL", "http://127.0.0.1:9/queue")
        .env("SLUICE_BATCHES_QUEUE_URL", "http://127.0.0.1:9/batches")
        .env("SLUICE_WEBHOOKS_QUEUE_URL", "http://127.0.0.1:9/webhooks")
        .env("SLUICE_LOG", "warn")
        // As template.yaml sets it: one CA bundle, not a scan of the certificate directory.
        .env("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let (mut sock, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await??;
    let mut buf = vec![0u8; 1024];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(
        String::from_utf8_lossy(&got).contains("/runtime/invocation/next"),
        "unexpected first request"
    );
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    child.kill().await.ok();
    Ok((elapsed, rss))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (route, hello) = (&args[1], &args[2]);
    let size = |p: &str| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let (mut route_times, mut hello_times) = (Vec::new(), Vec::new());
    let (mut route_rss, mut hello_rss) = (0, 0);
    for _ in 0..RUNS {
        // Alternate, so drift in the machine's load hits both alike.
        let (t, r) = start_to_ready(route).await?;
        route_times.push(t);
        route_rss = route_rss.max(r);
        let (t, r) = start_to_ready(hello).await?;
        hello_times.push(t);
        hello_rss = hello_rss.max(r);
    }
    let (rs, hs) = (size(route), size(hello));
    let (rt, ht) = (median(route_times), median(hello_times));
    println!(
        "P3 size: route {:.2} MiB, hello {:.2} MiB, ratio {:.2} (target <= 1.5)",
        rs as f64 / 1048576.0,
        hs as f64 / 1048576.0,
        rs as f64 / hs as f64
    );
    println!(
        "P3 start-to-ready (median of {RUNS}): route {:.2} ms, hello {:.2} ms, ratio {:.2} (target <= 1.5)",
        rt.as_secs_f64() * 1e3,
        ht.as_secs_f64() * 1e3,
        rt.as_secs_f64() / ht.as_secs_f64()
    );
    println!("P3 RSS at ready: route {route_rss} KiB, hello {hello_rss} KiB");
    Ok(())
}
