//! Collections: where one extractor's documents for a namespace go. A namespace has one
//! per configured extractor, its id derived from both, so every writer agrees on it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{from_item, keys, to_item};
use crate::context::AppContext;
use crate::domain::batch::BatchTarget;
use crate::domain::entities::Namespace;
use crate::domain::extractors::ExtractorChoice;
use crate::domain::ids::{derived_id, IdKind};
use crate::error::ApiError;
use crate::ports::Write;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collection {
    pub collection_id: String,
    pub collection_name: String,
    pub namespace_id: String,
    pub feature_extractor: ExtractorChoice,
    pub created_at: String,
}

pub fn collection_id(namespace_id: &str, extractor: &ExtractorChoice) -> String {
    derived_id(
        IdKind::Collection,
        &[
            namespace_id,
            &extractor.feature_extractor_name,
            &extractor.version,
        ],
    )
}

/// The collections a namespace's extractors write to.
pub fn targets(ns: &Namespace) -> Vec<BatchTarget> {
    ns.feature_extractors
        .iter()
        .map(|e| BatchTarget {
            collection_id: collection_id(&ns.namespace_id, e),
            extractor: e.clone(),
        })
        .collect()
}

/// Creates (or re-creates, unchanged) the namespace's collections; for its create
/// transaction and for updates that add extractors.
pub fn writes_for(ns: &Namespace) -> Vec<Write> {
    targets(ns)
        .into_iter()
        .map(|t| {
            let c = Collection {
                collection_name: format!(
                    "{}_{}",
                    t.extractor.feature_extractor_name, t.extractor.version
                ),
                collection_id: t.collection_id,
                namespace_id: ns.namespace_id.clone(),
                feature_extractor: t.extractor,
                created_at: ns.updated_at.clone(),
            };
            Write::put(to_item(
                &keys::collection(&ns.namespace_id, &c.collection_id),
                &c,
            ))
        })
        .collect()
}

pub async fn get(ctx: &AppContext, ns: &Namespace, id: &str) -> Result<Collection, ApiError> {
    match ctx
        .table
        .get(&keys::collection(&ns.namespace_id, id))
        .await?
    {
        Some(item) => from_item(item),
        None => Err(ApiError::not_found(format!("collection {id:?}"))),
    }
}

pub fn collection_json(c: &Collection) -> Value {
    json!({
        "collection_id": c.collection_id,
        "collection_name": c.collection_name,
        "namespace_id": c.namespace_id,
        "feature_extractor": c.feature_extractor,
        "created_at": c.created_at,
    })
}
