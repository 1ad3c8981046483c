//! The response views of feature search.

use schemars::JsonSchema;
use serde::Serialize;

use super::*;

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchHit {
    #[serde(flatten)]
    pub document: DocumentView,
    pub score: f32,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchView {
    pub results: Vec<SearchHit>,
    pub total: usize,
    pub top_k: usize,
    pub feature_uri: Option<String>,
    pub collection_ids: Vec<String>,
}
