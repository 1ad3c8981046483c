//! Shared by the benchmarks: the real `sluice-local` binary on a free port, and the
//! providers' emulators.

pub mod stores;

/// The number after `name` on the command line, or `default`.
pub fn arg(name: &str, default: usize) -> usize {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The text after `name` on the command line, or `default`.
pub fn arg_text(name: &str, default: &str) -> String {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .unwrap_or_else(|| default.to_string())
}

/// A running `sluice-local`, killed when dropped.
pub struct Local {
    pub child: tokio::process::Child,
    pub url: String,
}

pub async fn start_local(
    binary: &str,
    data_dir: &std::path::Path,
    key: &str,
) -> anyhow::Result<Local> {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(binary)
        .args(["--port", "0", "--data-dir"])
        .arg(data_dir)
        .env("SLUICE_API_KEY", key)
        .env("SLUICE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(url) = line.strip_prefix("SLUICE_URL=") {
            let url = url.to_string();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(Local { child, url });
        }
    }
    anyhow::bail!("sluice-local did not print its URL")
}

/// Creates a namespace and a bucket with `schema` (its `properties`); returns their ids.
pub async fn namespace_and_bucket(
    http: &reqwest::Client,
    url: &str,
    auth: &str,
    schema: serde_json::Value,
) -> anyhow::Result<(String, String)> {
    use serde_json::{json, Value};
    let ns: Value = http
        .post(format!("{url}/v1/namespaces"))
        .header("authorization", auth)
        .json(&json!({"namespace_name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let ns_id = ns["namespace_id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("namespace: {ns}"))?
        .to_string();
    let bucket: Value = http
        .post(format!("{url}/v1/buckets"))
        .header("authorization", auth)
        .header("x-namespace", &ns_id)
        .json(&json!({"bucket_name": "bench", "bucket_schema": {"properties": schema}}))
        .send()
        .await?
        .json()
        .await?;
    let bkt = bucket["bucket_id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("bucket: {bucket}"))?
        .to_string();
    Ok((ns_id, bkt))
}
