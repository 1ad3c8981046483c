//! The one context a process builds at start-up (a Lambda cold start, or `sluice-local`):
//! ports, the outbound HTTP client (behind the SSRF guard) and config. The binaries
//! choose the adapters (their composition roots); this module names none.

use std::sync::Arc;

use crate::config::Config;
use crate::net::HttpClient;
use crate::ports::absent::Absent;
use crate::ports::{
    BlobStore, Connectors, Embedders, EventBus, LoggedMetrics, Metrics, Queue, Sealer, Table,
    VectorIndex,
};
use crate::ports::{ExtractorSet, NoExtractors};

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
    /// The extractors this process runs beyond passthrough.
    pub extractors: Arc<dyn ExtractorSet>,
    /// Outbound HTTP behind the SSRF guard.
    pub http: HttpClient,
    /// External storage that syncs read (S3 and S3-compatible stores).
    pub connectors: Arc<dyn Connectors>,
    /// Seals connection credentials at rest.
    pub sealer: Arc<dyn Sealer>,
    /// Business figures (EMF in Lambda, Prometheus on sluice-local).
    pub metrics: Arc<dyn Metrics>,
    pub config: Config,
}

impl AppContext {
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
            extractors: Arc::new(NoExtractors),
            http: HttpClient::new(config.allow_private_urls, config.fetch_timeout),
            connectors: Arc::new(Absent("external storage connectors")),
            sealer: Arc::new(Absent("the credential key")),
            metrics: Arc::new(LoggedMetrics),
            config,
        }
    }
}

impl AppContext {
    /// With these embedding models (the processes that embed: the batch worker, feature
    /// search, sluice-local).
    pub fn with_embedders(mut self, embedders: Embedders) -> Self {
        self.embedders = embedders;
        self
    }

    /// With these extractors (the processes that run batches or decode query images).
    pub fn with_extractors(mut self, extractors: Arc<dyn ExtractorSet>) -> Self {
        self.extractors = extractors;
        self
    }

    /// With this writer of business figures.
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// With storage connectors and the key that seals their credentials (the processes
    /// that handle connections and syncs).
    pub fn with_connectors(
        mut self,
        connectors: Arc<dyn Connectors>,
        sealer: Arc<dyn Sealer>,
    ) -> Self {
        self.connectors = connectors;
        self.sealer = sealer;
        self
    }
}
