//! The one context a process builds at start-up (a Lambda cold start, or `sluice-local`).

use std::sync::Arc;
use std::time::Duration;

use crate::domain::embedding::ServerDefault;
use crate::net::HttpClient;
use crate::ports::{BlobStore, Embedders, EventBus, Queue, Table, VectorIndex};

#[derive(Debug, Clone)]
pub struct Config {
    /// Largest inline blob (`content`/`data`) accepted, decoded bytes.
    pub max_inline_bytes: usize,
    /// Largest request body accepted (API Gateway and Lambda allow about 6 MB).
    pub max_body_bytes: usize,
    /// Deliveries of a queue message before it is dead-lettered.
    pub max_receives: u32,
    /// How long a queue message stays hidden while a worker holds it.
    pub visibility_timeout: Duration,
    /// Delay before a purge's final sweep: longer than any request that could still be
    /// writing into the namespace or bucket being deleted.
    pub purge_settle: Duration,
    /// Uploads declared larger than this get presigned multipart part URLs.
    pub multipart_threshold: u64,
    /// Part size for multipart uploads (at least S3's 5 MiB minimum).
    pub multipart_part_size: u64,
    /// Lets blob URLs and webhooks reach loopback and private addresses (development only).
    pub allow_private_urls: bool,
    /// Time limit of one outbound HTTP request (blob fetch, webhook delivery).
    pub fetch_timeout: Duration,
    /// Largest blob a batch fetches into memory.
    pub max_fetch_bytes: usize,
    /// Objects per queue message of a batch (one transaction records a chunk).
    pub batch_chunk_size: usize,
    /// A queued or processing batch without progress for this long is failed as stalled.
    pub batch_stall: Duration,
    /// First webhook retry delay; each later one doubles (capped at 15 minutes by SQS).
    pub webhook_retry_base: Duration,
    /// Delivery attempts per event and endpoint.
    pub webhook_max_attempts: u32,
    /// Consecutive failed deliveries after which an endpoint is disabled.
    pub webhook_disable_after: i64,
    /// Where embedding models are installed (`scripts/fetch-models`; `/opt/models` in Lambda).
    pub models_dir: std::path::PathBuf,
    /// The embedding model a namespace gets when it names none.
    pub embedding_default: ServerDefault,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_inline_bytes: 5 * 1024 * 1024,
            max_body_bytes: 6 * 1024 * 1024,
            max_receives: 5,
            visibility_timeout: Duration::from_secs(120),
            purge_settle: Duration::from_secs(60),
            multipart_threshold: 100 * 1024 * 1024,
            multipart_part_size: 64 * 1024 * 1024,
            allow_private_urls: false,
            fetch_timeout: Duration::from_secs(30),
            max_fetch_bytes: 100 * 1024 * 1024,
            batch_chunk_size: 50,
            batch_stall: Duration::from_secs(900),
            webhook_retry_base: Duration::from_secs(5),
            webhook_max_attempts: 8,
            webhook_disable_after: 20,
            models_dir: default_models_dir(),
            embedding_default: ServerDefault::local(),
        }
    }
}

impl Config {
    /// Defaults, overridden by `SLUICE_*` environment variables where set; a value that
    /// cannot be used is an error, not a silent default.
    pub fn from_env() -> anyhow::Result<Self> {
        let mut c = Config::default();
        let num = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        if let Some(v) = num("SLUICE_MAX_INLINE_BYTES") {
            c.max_inline_bytes = v as usize;
        }
        if let Some(v) = num("SLUICE_MAX_RECEIVES") {
            c.max_receives = v as u32;
        }
        if let Some(v) = num("SLUICE_VISIBILITY_TIMEOUT_SECS") {
            c.visibility_timeout = Duration::from_secs(v);
        }
        if let Some(v) = num("SLUICE_PURGE_SETTLE_SECS") {
            c.purge_settle = Duration::from_secs(v);
        }
        if let Some(v) = num("SLUICE_MULTIPART_THRESHOLD") {
            c.multipart_threshold = v;
        }
        if let Some(v) = num("SLUICE_MULTIPART_PART_SIZE") {
            c.multipart_part_size = v.max(5 * 1024 * 1024);
        }
        c.allow_private_urls = std::env::var("SLUICE_ALLOW_PRIVATE_URLS").as_deref() == Ok("true");
        if let Some(v) = num("SLUICE_FETCH_TIMEOUT_SECS") {
            c.fetch_timeout = Duration::from_secs(v.max(1));
        }
        if let Some(v) = num("SLUICE_MAX_FETCH_BYTES") {
            c.max_fetch_bytes = v as usize;
        }
        if let Some(v) = num("SLUICE_BATCH_CHUNK_SIZE") {
            // A chunk's results and the batch counters share one transaction (≤ 100 writes).
            c.batch_chunk_size = (v as usize).clamp(1, 98);
        }
        if let Some(v) = num("SLUICE_BATCH_STALL_SECS") {
            c.batch_stall = Duration::from_secs(v);
        }
        if let Some(v) = num("SLUICE_WEBHOOK_RETRY_BASE_MS") {
            c.webhook_retry_base = Duration::from_millis(v);
        }
        if let Some(v) = num("SLUICE_WEBHOOK_MAX_ATTEMPTS") {
            c.webhook_max_attempts = (v as u32).max(1);
        }
        if let Some(v) = num("SLUICE_WEBHOOK_DISABLE_AFTER") {
            c.webhook_disable_after = v.max(1) as i64;
        }
        if let Some(dir) = std::env::var_os("SLUICE_MODELS_DIR") {
            c.models_dir = dir.into();
        }
        if let Ok(backend) = std::env::var("SLUICE_EMBEDDING_BACKEND") {
            let model = std::env::var("SLUICE_BEDROCK_MODEL").ok();
            c.embedding_default =
                ServerDefault::parse(&backend, model.as_deref()).map_err(|e| {
                    anyhow::anyhow!("SLUICE_EMBEDDING_BACKEND / SLUICE_BEDROCK_MODEL: {e}")
                })?;
        }
        Ok(c)
    }
}

/// `~/.cache/sluice/models`, where the scripts install models by default.
fn default_models_dir() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    std::path::Path::new(&home).join(".cache/sluice/models")
}

#[derive(Clone)]
pub struct AppContext {
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn BlobStore>,
    pub queue: Arc<dyn Queue>,
    pub events: Arc<dyn EventBus>,
    /// One index per collection, for feature search.
    pub vectors: Arc<dyn VectorIndex>,
    /// Embedding models, loaded on first use.
    pub embedders: Embedders,
    /// Outbound HTTP behind the SSRF guard.
    pub http: HttpClient,
    pub config: Config,
}

impl AppContext {
    /// With MiniLM from `config.models_dir`, loaded on first use, and Bedrock's models for
    /// namespaces created with them. Only the processes that embed call this, so the
    /// others do not link the inference code.
    #[cfg(feature = "models")]
    pub fn with_models(mut self) -> Self {
        let embedders = crate::adapters::models::embedders(self.config.models_dir.clone());
        #[cfg(feature = "aws")]
        let embedders = crate::adapters::aws::with_bedrock(embedders);
        self.embedders = embedders;
        self
    }

    pub fn new(
        table: Arc<dyn Table>,
        blobs: Arc<dyn BlobStore>,
        queue: Arc<dyn Queue>,
        events: Arc<dyn EventBus>,
        vectors: Arc<dyn VectorIndex>,
        config: Config,
    ) -> Self {
        AppContext {
            table,
            blobs,
            queue,
            events,
            vectors,
            embedders: Embedders::none(
                "this process has no embedding model (only the batch worker, feature search and sluice-local load one)",
            ),
            http: HttpClient::new(config.allow_private_urls, config.fetch_timeout),
            config,
        }
    }
}
