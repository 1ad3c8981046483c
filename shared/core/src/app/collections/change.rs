//! A collection changed after it was made: renamed, described, enabled or disabled; cloned
//! into a new one; and the features it makes searchable.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{create_over, get, name_key, CollectionExtractor, CreateCollection, SourceConfig};
use crate::app::{keys, pointer};
use crate::context::AppContext;
use crate::domain::collection::Collection;
use crate::domain::embedding::EmbeddingSpec;
use crate::domain::entities::{Namespace, Task};
use crate::domain::extractors::writes_embeddings;
use crate::domain::ids::IdKind;
use crate::domain::names;
use crate::error::Error;
use crate::ports::{Cond, StoreError, Update, Write};

/// `PATCH /v1/collections/{id}`: what may change once documents exist.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCollection {
    pub collection_name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// Replaces the collection's metadata.
    pub metadata: Option<Map<String, Value>>,
    /// Refused: a collection's documents were made by its extractor (clone it instead).
    pub feature_extractor: Option<Value>,
    /// Refused: change what a collection reads by cloning it over other buckets.
    pub source: Option<Value>,
}

pub async fn update(
    ctx: &AppContext,
    ns: &Namespace,
    ident: &str,
    req: UpdateCollection,
) -> Result<Collection, Error> {
    if req.feature_extractor.is_some() {
        return Err(Error::field(
            "feature_extractor",
            "a collection keeps the extractor that made its documents; clone it with another",
        ));
    }
    if req.source.is_some() {
        return Err(Error::field(
            "source",
            "a collection keeps its sources; clone it over other buckets",
        ));
    }
    let current = get(ctx, ns, ident).await?;
    let mut next = current.clone();
    if let Some(name) = req.collection_name {
        names::check(&name, 3, 100, IdKind::Collection)
            .map_err(|reason| Error::field("collection_name", reason))?;
        next.collection_name = name;
    }
    next.description = req.description.or(next.description);
    next.enabled = req.enabled.unwrap_or(next.enabled);
    next.metadata = req.metadata.or(next.metadata);
    // Fields set, not the item put: its document count moves with every write.
    let mut writes = vec![Write::Update {
        key: keys::collection(&ns.namespace_id, &next.collection_id),
        updates: vec![
            Update::Set("collection_name".into(), json!(next.collection_name)),
            Update::Set("description".into(), json!(next.description)),
            Update::Set("enabled".into(), json!(next.enabled)),
            Update::Set("metadata".into(), json!(next.metadata)),
        ],
        cond: Cond::Equals("collection_name".into(), json!(current.collection_name)),
    }];
    if next.collection_name != current.collection_name {
        writes.push(Write::create(pointer(
            &name_key(&ns.namespace_id, &next.collection_name),
            "collection_id",
            &next.collection_id,
        )));
        writes.push(Write::delete(name_key(
            &ns.namespace_id,
            &current.collection_name,
        )));
    }
    match ctx.table.transact(writes).await {
        Ok(()) => Ok(next),
        Err(StoreError::ConditionFailed { index: Some(1) }) => Err(Error::Conflict(format!(
            "a collection named {:?} already exists",
            next.collection_name
        ))),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::Conflict(
            "the collection changed while this request ran; read it again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// `POST /v1/collections/{id}/clone`: a new collection with the source's configuration
/// and whatever the request changes. It starts empty (`POST …/trigger` fills it), unless
/// asked to copy the source's documents and vectors (a task).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneCollection {
    pub collection_name: String,
    pub description: Option<String>,
    pub source: Option<SourceConfig>,
    pub feature_extractor: Option<CollectionExtractor>,
    pub enabled: Option<bool>,
    pub metadata: Option<Map<String, Value>>,
    /// Taxonomies are not served: only an empty list is taken.
    pub taxonomy_applications: Option<Vec<Value>>,
}

pub struct Cloned {
    pub from: Collection,
    pub made: Collection,
    /// The task copying the documents, when asked.
    pub copying: Option<Task>,
}

pub async fn clone(
    ctx: &AppContext,
    ns: &Namespace,
    ident: &str,
    req: CloneCollection,
    copy_documents: bool,
) -> Result<Cloned, Error> {
    if copy_documents && (req.source.is_some() || req.feature_extractor.is_some()) {
        return Err(Error::field(
            "copy_documents",
            "documents were made from the source's buckets by its extractor: clone without \
             changing `source` or `feature_extractor` to copy them",
        ));
    }
    if req
        .taxonomy_applications
        .as_ref()
        .is_some_and(|t| !t.is_empty())
    {
        return Err(Error::field(
            "taxonomy_applications",
            "taxonomies are not served by Sluice",
        ));
    }
    let from = get(ctx, ns, ident).await?;
    let fe = &from.feature_extractor;
    let made = create_over(
        ctx,
        ns,
        CreateCollection {
            collection_name: req.collection_name,
            description: req.description.or(from.description.clone()),
            source: req.source.unwrap_or_else(|| SourceConfig {
                source_type: "bucket".into(),
                bucket_ids: from.source_bucket_ids.clone(),
                field_map: None,
            }),
            feature_extractor: req
                .feature_extractor
                .unwrap_or_else(|| CollectionExtractor {
                    feature_extractor_name: fe.feature_extractor_name.clone(),
                    version: fe.version.clone(),
                    params: fe.params.clone(),
                    feature_extractor_id: None,
                    include_all_source_fields: None,
                }),
            enabled: req.enabled.or(Some(from.enabled)),
            metadata: req.metadata.or(from.metadata.clone()),
        },
        true,
    )
    .await?;
    let copying = match copy_documents {
        true => Some(super::copy::start(ctx, ns, &from, &made).await?),
        false => None,
    };
    Ok(Cloned {
        from,
        made,
        copying,
    })
}

/// One feature a collection makes searchable.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FeatureDescriptor {
    pub feature_address: String,
    pub feature_uri: String,
    pub feature_extractor_name: String,
    pub version: String,
    pub primary: bool,
    /// `{name, description, dimensions, type, distance, datatype, purpose}`.
    pub vector_index: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CollectionFeatures {
    pub features: Vec<FeatureDescriptor>,
}

pub fn features(c: &Collection) -> CollectionFeatures {
    let fe = &c.feature_extractor;
    if !writes_embeddings(&fe.feature_extractor_name) {
        return CollectionFeatures {
            features: Vec::new(),
        };
    }
    let spec = EmbeddingSpec::of(fe.params.as_ref());
    let uri = format!(
        "mixpeek://{}@{}/embedding",
        fe.feature_extractor_name, fe.version
    );
    CollectionFeatures {
        features: vec![FeatureDescriptor {
            feature_address: uri.clone(),
            feature_uri: uri,
            feature_extractor_name: fe.feature_extractor_name.clone(),
            version: fe.version.clone(),
            primary: true,
            vector_index: json!({
                "name": "embedding",
                "description": format!("{} embeddings ({})", spec.model, spec.backend.as_str()),
                "dimensions": spec.dimensions,
                "type": "dense",
                "distance": "cosine",
                "datatype": "float32",
                "purpose": if fe.feature_extractor_name == "text_extractor" { "text" } else { "multimodal" },
            }),
        }],
    }
}
