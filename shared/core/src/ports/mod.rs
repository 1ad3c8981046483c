//! The traits the core needs from the outside world. Adapters implement them.

pub mod absent;
mod blob;
mod embed;
mod events;
mod extract;
mod metrics;
mod queue;
mod source;
mod table;
mod vectors;

pub use blob::{delete_listed, BlobMeta, BlobStore, PartRef, PutConstraints, StoredPart};
pub use embed::{Backend, EmbedError, Embedder, Embedders, EmbeddingSpec, Media, MediaKind};
pub use events::{Event, EventBus};
pub(crate) use extract::Content;
pub use extract::{
    BlobFile, ExtractInput, Extracted, Extractor, ExtractorSet, FetchedBlob, NoExtractors,
    StageError,
};
pub use metrics::{Figure, LoggedMetrics, Measurement, Metrics, Unit};
pub use queue::{Queue, QueueName, Received};
pub use source::{
    Capabilities, Connectors, CredentialKeeper, InboundEvent, InboundRefusal, Renew, SealContext,
    SealError, SealPurpose, Sealer, Source, SourceBody, SourceEntry, SourceError, SourcePage,
    SourceResult, Unkept, MAX_CONTINUATION_BYTES, PROVIDER_SAID,
};
pub use table::{
    apply_updates, cond_holds, Cond, CursorPos, Index, Item, Key, Page, Query, Table, Update, Write,
};
pub use vectors::{VectorIndex, VectorMatch, VectorRecord};

/// A failure of a storage port, in terms the core can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The write's condition did not hold; `index` is the failing op in a transaction.
    #[error("condition failed (op {index:?})")]
    ConditionFailed { index: Option<usize> },
    /// Another writer raced us, or the backend throttled: safe to retry.
    #[error("busy: concurrent write or throttled")]
    Busy,
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("not found")]
    NotFound,
    #[error("backend: {0}")]
    Backend(String),
}

impl StoreError {
    pub fn backend(e: impl std::fmt::Display) -> Self {
        StoreError::Backend(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
