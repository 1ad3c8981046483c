//! Text (and later image) embeddings: a model that turns inputs into vectors of one space.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    /// The model is not installed or cannot be loaded: a deployment problem.
    #[error("embedding model unavailable: {0}")]
    Unavailable(String),
    /// The model ran and failed on this input.
    #[error("embedding failed: {0}")]
    Failed(String),
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
    /// One L2-normalised vector per text, in order.
    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

type Loader = dyn Fn() -> Result<Arc<dyn Embedder>, EmbedError> + Send + Sync;

/// The text embedder, loaded on first use (route binaries that never embed never pay
/// for the weights) and then shared by every request of the process.
#[derive(Clone)]
pub struct Embedders {
    loader: Arc<Loader>,
    loaded: Arc<OnceLock<Result<Arc<dyn Embedder>, EmbedError>>>,
}

impl Embedders {
    pub fn new(
        loader: impl Fn() -> Result<Arc<dyn Embedder>, EmbedError> + Send + Sync + 'static,
    ) -> Self {
        Embedders {
            loader: Arc::new(loader),
            loaded: Arc::new(OnceLock::new()),
        }
    }

    /// A process with no embedding model: every use says why.
    pub fn none(why: &str) -> Self {
        let why = why.to_string();
        Embedders::new(move || Err(EmbedError::Unavailable(why.clone())))
    }

    pub fn text(&self) -> Result<Arc<dyn Embedder>, EmbedError> {
        self.loaded.get_or_init(|| (self.loader)()).clone()
    }
}
