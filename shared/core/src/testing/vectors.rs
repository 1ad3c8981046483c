//! Vector indexes: exact nearest neighbours by cosine similarity.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use crate::domain::vector_filter::{dot, normalized, CompiledFilter};
use crate::ports::{StoreError, StoreResult, VectorIndex, VectorMatch, VectorRecord};

use super::lock;

/// An index's dimensions and its records by key.
type StoredIndex = (usize, BTreeMap<String, VectorRecord>);

/// Exact nearest neighbours by cosine similarity, one map per index.
#[derive(Default)]
pub struct MemoryVectors {
    indexes: Mutex<HashMap<String, StoredIndex>>,
}

impl MemoryVectors {
    pub fn len(&self, index: &str) -> usize {
        lock(&self.indexes).get(index).map_or(0, |(_, r)| r.len())
    }
    pub fn is_empty(&self, index: &str) -> bool {
        self.len(index) == 0
    }
    pub fn has_index(&self, index: &str) -> bool {
        lock(&self.indexes).contains_key(index)
    }
}

#[async_trait]
impl VectorIndex for MemoryVectors {
    async fn ensure_index(&self, index: &str, dimensions: usize) -> StoreResult<()> {
        let mut indexes = lock(&self.indexes);
        match indexes.get(index) {
            Some((d, _)) if *d != dimensions => Err(StoreError::backend(format!(
                "index {index} has {d} dimensions, not {dimensions}"
            ))),
            Some(_) => Ok(()),
            None => {
                indexes.insert(index.to_string(), (dimensions, BTreeMap::new()));
                Ok(())
            }
        }
    }
    async fn put(&self, index: &str, records: Vec<VectorRecord>) -> StoreResult<()> {
        let mut indexes = lock(&self.indexes);
        let (d, stored) = indexes.get_mut(index).ok_or(StoreError::NotFound)?;
        for r in records {
            if r.vector.len() != *d {
                return Err(StoreError::backend(format!(
                    "vector has {} dimensions, index {d}",
                    r.vector.len()
                )));
            }
            stored.insert(
                r.key.clone(),
                VectorRecord {
                    vector: normalized(r.vector.clone()),
                    ..r
                },
            );
        }
        Ok(())
    }
    async fn get(&self, index: &str, keys: &[String]) -> StoreResult<Vec<VectorRecord>> {
        let indexes = lock(&self.indexes);
        let Some((_, stored)) = indexes.get(index) else {
            return Ok(Vec::new());
        };
        Ok(keys.iter().filter_map(|k| stored.get(k).cloned()).collect())
    }
    async fn delete(&self, index: &str, keys: &[String]) -> StoreResult<()> {
        if let Some((_, stored)) = lock(&self.indexes).get_mut(index) {
            for k in keys {
                stored.remove(k);
            }
        }
        Ok(())
    }
    async fn query(
        &self,
        index: &str,
        vector: &[f32],
        top_k: usize,
        filter: Option<&Value>,
    ) -> StoreResult<Vec<VectorMatch>> {
        let indexes = lock(&self.indexes);
        let Some((d, stored)) = indexes.get(index) else {
            return Ok(Vec::new());
        };
        if vector.len() != *d {
            return Err(StoreError::backend(format!(
                "query has {} dimensions, index {d}",
                vector.len()
            )));
        }
        let query = normalized(vector.to_vec());
        let filter = filter.map(CompiledFilter::new);
        let mut hits: Vec<VectorMatch> = stored
            .values()
            .filter(|r| filter.as_ref().is_none_or(|f| f.matches(&r.metadata)))
            .map(|r| VectorMatch {
                key: r.key.clone(),
                score: dot(&query, &r.vector),
                metadata: r.metadata.clone(),
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(top_k);
        Ok(hits)
    }
    async fn drop_index(&self, index: &str) -> StoreResult<()> {
        lock(&self.indexes).remove(index);
        Ok(())
    }
}
