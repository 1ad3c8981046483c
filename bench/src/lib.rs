//! Shared by the benchmarks: the real `sluice-local` binary on a free port.

/// A running `sluice-local`, killed when dropped.
pub struct Local {
    pub child: tokio::process::Child,
    pub url: String,
}

pub async fn start_local(binary: &str, data_dir: &std::path::Path, key: &str) -> anyhow::Result<Local> {
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

