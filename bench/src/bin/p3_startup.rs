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
        .env("SLUICE_SYNCS_QUEUE_URL", "http://127.0.0.1:9/syncs")
        .env("SLUICE_CREDENTIAL_KEY", "bench-key")
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

async fn measure(binary: &str) -> anyhow::Result<(u64, Duration, u64)> {
    let mut times = Vec::new();
    let mut rss = 0;
    for _ in 0..RUNS {
        let (t, r) = start_to_ready(binary).await?;
        times.push(t);
        rss = rss.max(r);
    }
    let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
    Ok((size, median(times), rss))
}

/// `p3_startup <hello> <hello-dynamodb> <route binary>...`: each binary measured in
/// turn (RUNS starts each, medians), rounds repeated so load drift hits all alike.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() >= 3, "usage: p3_startup <hello> <hello-dynamodb> <binary>...");
    let mut results = Vec::new();
    for binary in &args {
        results.push(measure(binary).await?);
    }
    let name = |p: &str| {
        std::path::Path::new(p)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let (hs, ht, _) = results[0];
    let (ds, dt, _) = results[1];
    for (binary, (size, time, rss)) in args.iter().zip(&results) {
        println!(
            "P3 {:<20} {:>6.2} MiB ({:.2}x hello, {:.2}x hello+dynamodb), start-to-ready {:>5.2} ms ({:.2}x, {:.2}x), RSS at ready {rss} KiB",
            name(binary),
            *size as f64 / 1048576.0,
            *size as f64 / hs as f64,
            *size as f64 / ds as f64,
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() / ht.as_secs_f64(),
            time.as_secs_f64() / dt.as_secs_f64(),
        );
    }
    println!("P3 target: a plain route <= 1.3x hello+dynamodb in size and start");
    Ok(())
}
