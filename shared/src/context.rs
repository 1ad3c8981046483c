//! The one context a process builds at start-up (a Lambda cold start, or `sluice-local`).

use std::sync::Arc;
use std::time::Duration;

use crate::ports::{BlobStore, EventBus, Queue, Table};

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
        }
    }
}

impl Config {
    /// Defaults, overridden by `SLUICE_*` environment variables where set.
    pub fn from_env() -> Self {
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
        c
    }
}

#[derive(Clone)]
pub struct AppContext {
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn BlobStore>,
    pub queue: Arc<dyn Queue>,
    pub events: Arc<dyn EventBus>,
    pub config: Config,
}

impl AppContext {
    pub fn new(
        table: Arc<dyn Table>,
        blobs: Arc<dyn BlobStore>,
        queue: Arc<dyn Queue>,
        events: Arc<dyn EventBus>,
        config: Config,
    ) -> Self {
        AppContext {
            table,
            blobs,
            queue,
            events,
            config,
        }
    }
}
