//! Vector indexes: one per collection, exact or approximate nearest-neighbour search by
//! cosine similarity, with a metadata filter in Amazon S3 Vectors' syntax
//! (`{"k": {"$eq": v}}`, `$ne $gt $gte $lt $lte $in $nin $exists $and $or`).

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::StoreResult;

#[derive(Debug, Clone, PartialEq)]
pub struct VectorRecord {
    pub key: String,
    pub vector: Vec<f32>,
    /// Flat: string, number, boolean, or a list of strings.
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatch {
    pub key: String,
    /// Cosine similarity, 1.0 for the same direction.
    pub score: f32,
    pub metadata: Map<String, Value>,
}

#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// Creates the index if it does not exist; an existing one must have `dimensions`.
    async fn ensure_index(&self, index: &str, dimensions: usize) -> StoreResult<()>;
    /// Inserts or replaces records by key; `StoreError::NotFound` if the index does not
    /// exist.
    async fn put(&self, index: &str, records: Vec<VectorRecord>) -> StoreResult<()>;
    /// The records stored under `keys` (a vector in the direction put; a backend may have
    /// scaled it to unit length). Absent keys, and an index that does not exist, yield
    /// nothing.
    async fn get(&self, index: &str, keys: &[String]) -> StoreResult<Vec<VectorRecord>>;
    /// Removes records; absent keys are not an error.
    async fn delete(&self, index: &str, keys: &[String]) -> StoreResult<()>;
    /// The `top_k` records most similar to `vector` among those passing `filter`.
    /// An index that does not exist yet has no records.
    async fn query(
        &self,
        index: &str,
        vector: &[f32],
        top_k: usize,
        filter: Option<&Value>,
    ) -> StoreResult<Vec<VectorMatch>>;
    /// Removes the index and every record in it.
    async fn drop_index(&self, index: &str) -> StoreResult<()>;
}
