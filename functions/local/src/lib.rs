//! The local server: the route table over HTTP (`http`), the presigned blob endpoint
//! (`blobs`), the queue pollers and the schedules' stand-ins (`workers`), all in one
//! process. This file is the composition root: it builds the ports once and starts them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use sluice_api::{Router, ROUTES};
use sluice_backend_local::{self as local, LocalBlobStore};
use sluice_core::app::auth;
use sluice_core::ports::QueueName;
use sluice_core::{AppContext, Config};
use tokio::sync::watch;

mod blobs;
mod http;
mod responses;
mod workers;

pub struct Options {
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    pub api_key: Option<String>,
    /// Refuse to start when others can read the data dir's secrets (else warn).
    pub strict: bool,
}

pub struct Server {
    pub url: String,
    pub api_key: String,
    /// Whether this server made the key (not given by `--api-key` / `SLUICE_API_KEY`):
    /// only such a key is printed.
    pub key_was_made: bool,
    pub ctx: AppContext,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

struct Shared {
    ctx: AppContext,
    router: Router,
    blobs: Arc<LocalBlobStore>,
    metrics: Arc<local::PrometheusMetrics>,
}

const DEV_KEY_FILE: &str = "dev-api-key";

/// The dev key: given, or the one made at first start (kept in a 0600 file beside
/// the data; the table holds only its hash).
fn dev_key(data_dir: &std::path::Path, given: Option<String>) -> anyhow::Result<String> {
    if let Some(k) = given {
        return Ok(k);
    }
    let path = data_dir.join(DEV_KEY_FILE);
    if let Ok(k) = std::fs::read_to_string(&path) {
        return Ok(k.trim().to_string());
    }
    let key = auth::generate_key();
    local::private::write_new(&path, key.as_bytes())?;
    Ok(key)
}

impl Server {
    pub async fn start(opts: Options) -> anyhow::Result<Server> {
        local::private::create_dir(&opts.data_dir)?;
        let exposed = local::private::exposed(&opts.data_dir);
        if !exposed.is_empty() {
            let list: Vec<String> = exposed
                .iter()
                .map(|(p, mode)| format!("{} ({mode:o})", p.display()))
                .collect();
            let why = format!(
                "others can read the data dir's secrets or enter it: {}; chmod 700 the dir and 600 the files",
                list.join(", ")
            );
            if opts.strict {
                anyhow::bail!("{why} (refused: --strict)");
            }
            tracing::warn!(data_dir = %opts.data_dir.display(), "{why}");
            eprintln!("warning: {why}");
        }
        let listener = tokio::net::TcpListener::bind(opts.addr).await?;
        let bound = listener.local_addr()?;
        let url = format!("http://{bound}");
        let config = Config::from_env()?;
        let (ctx, blobs) = local::context(&opts.data_dir, &url, config)?;
        // One process runs every route and worker: it embeds and extracts.
        let embedders =
            sluice_bedrock::with_bedrock(sluice_models::embedders(ctx.config.models_dir.clone()));
        let sealer = ctx.sealer.clone();
        let connectors = sluice_connectors::Registry::new(&ctx.config);
        let metrics = Arc::new(local::PrometheusMetrics::new());
        let ctx = ctx
            .with_metrics(metrics.clone())
            .with_embedders(embedders)
            .with_extractors(sluice_extract::Extractors::shared())
            .with_connectors(Arc::new(connectors), sealer);
        // A missing model is a start-up error, not a surprise at the first batch.
        let embedders = ctx.embedders.clone();
        tokio::task::spawn_blocking(move || embedders.local())
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        blobs.set_public_url(&url);
        let key_was_made = opts.api_key.is_none();
        let api_key = dev_key(&opts.data_dir, opts.api_key)?;
        auth::ensure_key(&ctx, "local", &api_key)
            .await
            .map_err(|e| anyhow::anyhow!("registering the dev key: {e}"))?;

        let (shutdown, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for q in QueueName::ALL {
            tasks.push(tokio::spawn(sluice_core::jobs::poll(
                ctx.clone(),
                q,
                rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(workers::sweep(ctx.clone(), rx.clone())));
        tasks.push(tokio::spawn(workers::poll_syncs(ctx.clone(), rx.clone())));
        let shared = Arc::new(Shared {
            ctx: ctx.clone(),
            router: Router::new(&ROUTES),
            blobs,
            metrics,
        });
        let app = axum::Router::new()
            .fallback(http::handle)
            .with_state(shared);
        let mut srx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let stop = async move {
                let _ = srx.wait_for(|v| *v).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "server stopped");
            }
        }));
        tracing::info!(%url, "sluice-local ready");
        Ok(Server {
            url,
            api_key,
            key_was_made,
            ctx,
            shutdown,
            tasks,
        })
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        ctrl_c.await?;
        tracing::info!("shutting down");
        self.stop().await;
        Ok(())
    }
}
