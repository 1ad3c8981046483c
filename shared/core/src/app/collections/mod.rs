//! Collections: where one extractor's documents go. A namespace has one per configured
//! extractor (sourced from all its buckets, id derived from namespace and extractor, so
//! every writer agrees on it); more can be created over chosen buckets. A batch writes
//! to every collection of its namespace that its bucket feeds.

mod change;
mod copy;
mod export;
mod import;
mod reconcile;

pub use change::{
    clone, features, update, CloneCollection, Cloned, CollectionFeatures, UpdateCollection,
};
pub use copy::run as copy_documents;
pub use export::{export, Export, Exported};
pub use import::{
    import, infer_schema, validate_mapping, Import, Imported, InferSchema, InferredSchema,
    MappingCheck, ValidateMapping,
};
pub use reconcile::{reconcile, Reconciliation};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::lists::{all_items, all_records, collect, ListRequest};
use super::views::{record, CollectionDeleted, CollectionView, Page};
use super::{buckets, from_item, keys, pointer, to_item};
use crate::context::AppContext;
use crate::domain::batch::BatchTarget;
pub use crate::domain::collection::Collection;
use crate::domain::entities::Namespace;
use crate::domain::extractors::{self, ExtractorChoice};
use crate::domain::ids::{derived_id, IdKind};
use crate::domain::names;
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Query, StoreError, Write};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Only `bucket` sources are served.
    #[serde(rename = "type")]
    pub source_type: String,
    pub bucket_ids: Option<Vec<String>>,
    /// Per-source field selection: only the empty map (the SDK's default) is served.
    pub field_map: Option<Map<String, Value>>,
}

/// A collection's extractor as the SDK sends it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionExtractor {
    pub feature_extractor_name: String,
    pub version: String,
    pub params: Option<Map<String, Value>>,
    pub feature_extractor_id: Option<String>,
    /// Only `false` (the SDK's default) is served.
    pub include_all_source_fields: Option<bool>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    pub collection_name: String,
    pub description: Option<String>,
    pub source: SourceConfig,
    pub feature_extractor: CollectionExtractor,
    pub enabled: Option<bool>,
    pub metadata: Option<Map<String, Value>>,
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

pub(crate) fn name_key(ns: &str, name: &str) -> crate::ports::Key {
    crate::ports::Key::new(keys::ns_pk(ns), format!("COLNAME#{name}"))
}

/// The namespace's own collections, one per configured extractor, written with the
/// namespace (and again, unchanged, when it is updated).
pub fn writes_for(ns: &Namespace) -> Vec<Write> {
    ns.feature_extractors
        .iter()
        .flat_map(|e| {
            let c = Collection {
                collection_id: collection_id(&ns.namespace_id, e),
                collection_name: format!("{}_{}", e.feature_extractor_name, e.version),
                namespace_id: ns.namespace_id.clone(),
                feature_extractor: e.clone(),
                source_bucket_ids: None,
                description: None,
                enabled: true,
                metadata: None,
                created_at: ns.updated_at.clone(),
                document_count: 0,
            };
            [
                Write::put(pointer(
                    &name_key(&ns.namespace_id, &c.collection_name),
                    "collection_id",
                    &c.collection_id,
                )),
                Write::put(to_item(
                    &keys::collection(&ns.namespace_id, &c.collection_id),
                    &c,
                )),
            ]
        })
        .collect()
}

pub async fn create(
    ctx: &AppContext,
    ns: &Namespace,
    req: CreateCollection,
) -> Result<Collection, Error> {
    create_over(ctx, ns, req, false).await
}

/// `every_bucket`: a request that names no buckets takes from every bucket of the
/// namespace, as its own collections do (a clone of one of them); otherwise it must name
/// at least one.
pub(crate) async fn create_over(
    ctx: &AppContext,
    ns: &Namespace,
    req: CreateCollection,
    every_bucket: bool,
) -> Result<Collection, Error> {
    names::check(&req.collection_name, 3, 100, IdKind::Collection)
        .map_err(|reason| Error::field("collection_name", reason))?;
    let fe = req.feature_extractor;
    if fe.include_all_source_fields == Some(true) {
        return Err(Error::field(
            "feature_extractor.include_all_source_fields",
            "is not supported",
        ));
    }
    if req.source.field_map.as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(Error::field("source.field_map", "is not supported"));
    }
    let choice = ExtractorChoice {
        feature_extractor_name: fe.feature_extractor_name,
        version: fe.version,
        params: fe.params,
        feature_extractor_id: String::new(),
    };
    let extractor = extractors::resolve(
        std::slice::from_ref(&choice),
        "feature_extractor",
        &ctx.config.embedding_default,
    )
    .map_err(|e| {
        Error::field(
            e.field
                .replacen("feature_extractor[0]", "feature_extractor", 1),
            e.reason,
        )
    })?
    .remove(0);
    if req.source.source_type != "bucket" {
        return Err(Error::field(
            "source.type",
            "only 'bucket' sources are supported",
        ));
    }
    let source_bucket_ids = match req.source.bucket_ids.filter(|ids| !ids.is_empty()) {
        Some(wanted) => Some(bucket_ids(ctx, ns, &wanted).await?),
        None if every_bucket => None,
        None => {
            return Err(Error::field(
                "source.bucket_ids",
                "name at least one bucket",
            ))
        }
    };
    let c = Collection {
        collection_id: IdKind::Collection.new_id(),
        collection_name: req.collection_name,
        namespace_id: ns.namespace_id.clone(),
        feature_extractor: extractor,
        source_bucket_ids,
        description: req.description,
        enabled: req.enabled.unwrap_or(true),
        metadata: req.metadata,
        created_at: now_rfc3339(),
        document_count: 0,
    };
    let result = ctx
        .table
        .transact(vec![
            Write::create(pointer(
                &name_key(&ns.namespace_id, &c.collection_name),
                "collection_id",
                &c.collection_id,
            )),
            Write::create(to_item(
                &keys::collection(&ns.namespace_id, &c.collection_id),
                &c,
            )),
        ])
        .await;
    match result {
        Ok(()) => Ok(c),
        Err(StoreError::ConditionFailed { index: Some(0) }) => Err(Error::Conflict(format!(
            "a collection named {:?} already exists",
            c.collection_name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The ids of the buckets named (ids or names); a 422 names one that is not there.
async fn bucket_ids(
    ctx: &AppContext,
    ns: &Namespace,
    wanted: &[String],
) -> Result<Vec<String>, Error> {
    let mut ids = Vec::with_capacity(wanted.len());
    for ident in wanted {
        let bucket = buckets::resolve(ctx, ns, ident).await.map_err(|_| {
            Error::field(
                "source.bucket_ids",
                format!("no bucket {ident:?} in this namespace"),
            )
        })?;
        ids.push(bucket.bucket_id);
    }
    Ok(ids)
}

/// A collection by id or name.
pub async fn get(ctx: &AppContext, ns: &Namespace, ident: &str) -> Result<Collection, Error> {
    let id = if ident.starts_with("col_") {
        ident.to_string()
    } else {
        match ctx.table.get(&name_key(&ns.namespace_id, ident)).await? {
            Some(p) => p
                .get("collection_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            None => return Err(Error::not_found(format!("collection {ident:?}"))),
        }
    };
    match ctx
        .table
        .get(&keys::collection(&ns.namespace_id, &id))
        .await?
    {
        Some(item) => from_item(item),
        None => Err(Error::not_found(format!("collection {ident:?}"))),
    }
}

pub async fn all(ctx: &AppContext, namespace_id: &str) -> Result<Vec<Collection>, Error> {
    let query = Query::partition(keys::ns_pk(namespace_id)).prefix("COL#");
    all_records(ctx.table.as_ref(), query).await
}

/// The collections a batch of `bucket_id` writes to.
pub async fn targets(
    ctx: &AppContext,
    ns: &Namespace,
    bucket_id: &str,
) -> Result<Vec<BatchTarget>, Error> {
    Ok(all(ctx, &ns.namespace_id)
        .await?
        .into_iter()
        .filter(|c| c.takes_from(bucket_id))
        .map(|c| BatchTarget {
            collection_id: c.collection_id,
            extractor: c.feature_extractor,
        })
        .collect())
}

/// The collections a batch of `bucket_id` goes to: every one fed by the bucket, or the
/// ones `chosen` (ids or names; `field` names the request field in errors), each of which
/// must be fed by the bucket. Returns the chosen ids with the targets.
pub async fn chosen_targets(
    ctx: &AppContext,
    ns: &Namespace,
    bucket_id: &str,
    chosen: Option<&[String]>,
    field: &str,
) -> Result<(Option<Vec<String>>, Vec<BatchTarget>), Error> {
    let all = targets(ctx, ns, bucket_id).await?;
    let Some(chosen) = chosen else {
        return Ok((None, all));
    };
    if chosen.is_empty() {
        return Err(Error::field(
            field,
            "name at least one collection, or omit it",
        ));
    }
    if chosen.len() > 100 || chosen.iter().any(|c| c.len() > 200) {
        return Err(Error::field(
            field,
            "names at most 100 collections, by id or name",
        ));
    }
    let mut ids = Vec::with_capacity(chosen.len());
    for ident in chosen {
        let c = get(ctx, ns, ident).await.map_err(|_| {
            Error::field(field, format!("no collection {ident:?} in this namespace"))
        })?;
        if !all.iter().any(|t| t.collection_id == c.collection_id) {
            return Err(Error::field(
                field,
                format!(
                    "collection {ident:?} does not take objects from this bucket (or is disabled)"
                ),
            ));
        }
        if !ids.contains(&c.collection_id) {
            ids.push(c.collection_id);
        }
    }
    let picked = all
        .into_iter()
        .filter(|t| ids.contains(&t.collection_id))
        .collect();
    Ok((Some(ids), picked))
}

pub async fn list(
    ctx: &AppContext,
    ns: &Namespace,
    req: &ListRequest,
) -> Result<Page<CollectionView>, Error> {
    let size = req.page_size()?;
    let query = Query::partition(keys::ns_pk(&ns.namespace_id))
        .prefix("COL#")
        .cursor(req.cursor()?);
    let filter = req.filter(&["collection_name", "collection_id", "description"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let c: Collection = from_item(item)?;
        record(&CollectionView::from(&c)).map(Some)
    })
    .await?;
    Ok(Page::new(req.project(results), next, size, None).counted())
}

/// Deletes a collection and its documents.
pub async fn delete(
    ctx: &AppContext,
    ns: &Namespace,
    ident: &str,
) -> Result<CollectionDeleted, Error> {
    let c = get(ctx, ns, ident).await?;
    ctx.table
        .transact(vec![
            Write::Delete {
                key: keys::collection(&ns.namespace_id, &c.collection_id),
                cond: Cond::Exists,
            },
            Write::delete(name_key(&ns.namespace_id, &c.collection_name)),
        ])
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => Error::not_found(format!("collection {ident:?}")),
            other => other.into(),
        })?;
    let query = crate::store::index::collection_documents(&c.collection_id);
    let documents = all_items(ctx.table.as_ref(), query).await?;
    super::documents::remove(ctx, &documents).await?;
    ctx.vectors.drop_index(&c.collection_id).await?;
    Ok(CollectionDeleted {
        success: true,
        collection_id: c.collection_id,
        documents_deleted: documents.len(),
        message: "collection deleted".into(),
    })
}
