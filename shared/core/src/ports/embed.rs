//! Embeddings: a model that turns text (and, for multimodal models, images, audio or
//! video) into vectors of one space. Each collection's model is fixed by its
//! [`EmbeddingSpec`]; [`Embedders`] hands out the model for a spec.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;

pub use crate::domain::embedding::{Backend, EmbeddingSpec, MediaKind};

#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    /// The model is not installed, not enabled or not reachable: a deployment problem.
    #[error("embedding model unavailable: {0}")]
    Unavailable(String),
    /// The model ran and failed on this input.
    #[error("embedding failed: {0}")]
    Failed(String),
}

/// Media bytes for a multimodal model.
pub struct Media<'a> {
    pub kind: MediaKind,
    /// The container, as the model names it: `png`, `jpeg`, `wav`, `mp4`…
    pub format: &'a str,
    pub bytes: &'a [u8],
}

#[async_trait]
pub trait Embedder: Send + Sync {
    /// What produced the vectors, e.g. `sentence-transformers/all-MiniLM-L6-v2`.
    fn model_id(&self) -> &str;
    fn dimensions(&self) -> usize;
    /// The model's own token count for `text` (chunking budgets are in these tokens).
    fn count_tokens(&self, text: &str) -> usize;
    /// Longest input the model reads, in tokens; the rest is truncated.
    fn max_tokens(&self) -> usize;
    /// One L2-normalised vector per text to be indexed, in order.
    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// A search query's vector. Models that embed queries and documents differently
    /// (Nova's retrieval purpose) override this.
    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed_texts(&[text.to_string()])
            .await?
            .pop()
            .ok_or_else(|| EmbedError::Failed("the model returned no vector".into()))
    }
    /// What besides text the model embeds into the same space.
    fn media(&self) -> &[MediaKind] {
        &[]
    }
    /// One L2-normalised vector for an image, a sound or a clip (only kinds in `media()`).
    async fn embed_media(&self, media: &Media<'_>) -> Result<Vec<f32>, EmbedError> {
        Err(EmbedError::Failed(format!(
            "{} does not embed {:?}",
            self.model_id(),
            media.kind
        )))
    }
    /// Media given as a search query (models with a retrieval purpose override this).
    async fn embed_media_query(&self, media: &Media<'_>) -> Result<Vec<f32>, EmbedError> {
        self.embed_media(media).await
    }
}

type Loader = dyn Fn() -> Result<Arc<dyn Embedder>, EmbedError> + Send + Sync;
type RemoteFactory = dyn Fn(&EmbeddingSpec) -> Arc<dyn Embedder> + Send + Sync;

/// The models of a process: the local one loaded on first use (route binaries that never
/// embed never pay for the weights), remote ones (Bedrock) made per spec on first use;
/// each then shared by every request of the process.
#[derive(Clone)]
pub struct Embedders {
    loader: Arc<Loader>,
    loaded: Arc<OnceLock<Result<Arc<dyn Embedder>, EmbedError>>>,
    remote: Option<Arc<RemoteFactory>>,
    remotes: Arc<Mutex<HashMap<EmbeddingSpec, Arc<dyn Embedder>>>>,
}

impl Embedders {
    pub fn new(
        loader: impl Fn() -> Result<Arc<dyn Embedder>, EmbedError> + Send + Sync + 'static,
    ) -> Self {
        Embedders {
            loader: Arc::new(loader),
            loaded: Arc::new(OnceLock::new()),
            remote: None,
            remotes: Arc::default(),
        }
    }

    /// A process with no local model: every use says why.
    pub fn none(why: &str) -> Self {
        let why = why.to_string();
        Embedders::new(move || Err(EmbedError::Unavailable(why.clone())))
    }

    /// With a maker of remote (Bedrock) models.
    pub fn with_remote(
        mut self,
        factory: impl Fn(&EmbeddingSpec) -> Arc<dyn Embedder> + Send + Sync + 'static,
    ) -> Self {
        self.remote = Some(Arc::new(factory));
        self
    }

    /// The local text model.
    pub fn local(&self) -> Result<Arc<dyn Embedder>, EmbedError> {
        self.loaded.get_or_init(|| (self.loader)()).clone()
    }

    /// The model that makes `spec`'s vectors.
    pub fn get(&self, spec: &EmbeddingSpec) -> Result<Arc<dyn Embedder>, EmbedError> {
        let model = match spec.backend {
            Backend::Local => self.local()?,
            Backend::Bedrock => {
                let factory = self.remote.as_ref().ok_or_else(|| {
                    EmbedError::Unavailable(format!(
                        "{} runs on Amazon Bedrock, which this process does not reach",
                        spec.model
                    ))
                })?;
                let mut made = self.remotes.lock().unwrap_or_else(|p| p.into_inner());
                made.entry(spec.clone())
                    .or_insert_with(|| factory(spec))
                    .clone()
            }
        };
        if model.dimensions() != spec.dimensions || model.model_id() != spec.model {
            return Err(EmbedError::Unavailable(format!(
                "this collection's vectors come from {} ({} dimensions); the model here is {} ({})",
                spec.model,
                spec.dimensions,
                model.model_id(),
                model.dimensions()
            )));
        }
        Ok(model)
    }
}
