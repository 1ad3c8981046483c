//! Namespaces: an org's isolation boundary, with its chosen feature extractors.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::lists::{collect, ListRequest};
use super::purge::{self, PurgeScope};
use super::views::{
    record, DeletionQueued, ExtractorView, IndexState, IndexesEnsured, NamespaceExtractors,
    NamespaceStats, NamespaceStatsBatch, NamespaceView, Page,
};
use super::{from_item, keys, pointer, tasks, to_item};
use crate::context::AppContext;
use crate::domain::embedding::EmbeddingSpec;
use crate::domain::entities::Namespace;
use crate::domain::extractors::{self, ExtractorChoice};
use crate::domain::ids::IdKind;
use crate::domain::names;
use crate::domain::status::{RecordStatus, TaskStatus};
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Query, StoreError, Update, Write};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNamespace {
    pub namespace_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub feature_extractors: Option<Vec<ExtractorChoice>>,
    /// Only `managed` (extractors write the vectors) is served.
    #[serde(default)]
    pub mode: Option<String>,
}

/// `PATCH` (absent fields are kept; extractors are appended) and `PUT` (the name is
/// required; extractors given replace the namespace's, absent fields are kept).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNamespace {
    #[serde(default)]
    pub namespace_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub feature_extractors: Option<Vec<ExtractorChoice>>,
}

fn check_name(name: &str) -> Result<(), Error> {
    names::check(name, 3, 64, IdKind::Namespace)
        .map_err(|reason| Error::field("namespace_name", reason))
}

/// Finds an active namespace of `org_id` by id or name; anything else is a 404.
pub async fn resolve(ctx: &AppContext, org_id: &str, ident: &str) -> Result<Namespace, Error> {
    let not_found = || Error::not_found(format!("namespace {ident:?}"));
    let id = if IdKind::Namespace.matches(ident) {
        ident.to_string()
    } else {
        let ptr = ctx
            .table
            .get(&keys::namespace_name(org_id, ident))
            .await?
            .ok_or_else(not_found)?;
        ptr.get("namespace_id")
            .and_then(Value::as_str)
            .ok_or_else(not_found)?
            .to_string()
    };
    let item = ctx
        .table
        .get(&keys::namespace(org_id, &id))
        .await?
        .ok_or_else(not_found)?;
    let ns: Namespace = from_item(item)?;
    if ns.status != RecordStatus::Active {
        return Err(not_found());
    }
    Ok(ns)
}

pub async fn create(
    ctx: &AppContext,
    org_id: &str,
    req: CreateNamespace,
) -> Result<Namespace, Error> {
    check_name(&req.namespace_name)?;
    if req.mode.as_deref().is_some_and(|m| m != "managed") {
        return Err(Error::field(
            "mode",
            "only 'managed' namespaces are supported",
        ));
    }
    let chosen = extractors::resolve(
        req.feature_extractors.as_deref().unwrap_or_default(),
        "feature_extractors",
        &ctx.config.embedding_default,
    )
    .map_err(|e| Error::field(e.field, e.reason))?;
    let now = now_rfc3339();
    let ns = Namespace {
        namespace_id: IdKind::Namespace.new_id(),
        namespace_name: req.namespace_name,
        description: req.description,
        feature_extractors: chosen,
        org_id: org_id.to_string(),
        status: RecordStatus::Active,
        bucket_count: 0,
        version: 1,
        created_at: now.clone(),
        updated_at: now,
    };
    let mut ops = vec![
        Write::create(to_item(&keys::namespace(org_id, &ns.namespace_id), &ns)),
        Write::create(pointer(
            &keys::namespace_name(org_id, &ns.namespace_name),
            "namespace_id",
            &ns.namespace_id,
        )),
        Write::Update {
            key: keys::org(org_id),
            updates: vec![Update::Add("namespace_count".into(), 1)],
            cond: Cond::Exists,
        },
    ];
    ops.extend(super::collections::writes_for(&ns));
    match ctx.table.transact(ops).await {
        Ok(()) => Ok(ns),
        Err(StoreError::ConditionFailed { index: Some(1) }) => Err(Error::Conflict(format!(
            "a namespace named {:?} already exists",
            ns.namespace_name
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(
    ctx: &AppContext,
    org_id: &str,
    req: &ListRequest,
) -> Result<Page<NamespaceView>, Error> {
    let size = req.page_size()?;
    let query = Query::partition(keys::org_pk(org_id))
        .prefix("NS#")
        .cursor(req.cursor()?)
        .descending(req.descending()?);
    let filter = req.filter(&["namespace_name", "namespace_id", "description"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let ns: Namespace = from_item(item)?;
        (ns.status == RecordStatus::Active)
            .then(|| record(&NamespaceView::from(&ns)))
            .transpose()
    })
    .await?;
    let total = if filter.is_empty() {
        let org = ctx.table.get(&keys::org(org_id)).await?;
        org.and_then(|o| o.get("namespace_count").and_then(Value::as_i64))
    } else {
        None
    };
    Ok(Page::new(req.project(results), next, size, total).counted())
}

/// Applies a PATCH (`replace = false`) or PUT (`replace = true`).
pub async fn update(
    ctx: &AppContext,
    org_id: &str,
    ident: &str,
    req: UpdateNamespace,
    replace: bool,
) -> Result<Namespace, Error> {
    let current = resolve(ctx, org_id, ident).await?;
    let mut next = current.clone();
    if let Some(name) = req.namespace_name {
        check_name(&name)?;
        next.namespace_name = name;
    } else if replace {
        return Err(Error::field("namespace_name", "is required"));
    }
    // The SDK's PUT body declares only the name: a field it leaves out is kept, or a
    // rename through it would wipe the namespace's extractors.
    if req.description.is_some() {
        next.description = req.description;
    }
    if let Some(given) = req.feature_extractors {
        let resolved =
            extractors::resolve(&given, "feature_extractors", &ctx.config.embedding_default)
                .map_err(|e| Error::field(e.field, e.reason))?;
        let mut kept = Vec::with_capacity(resolved.len());
        for (i, (choice, asked)) in resolved.into_iter().zip(&given).enumerate() {
            match current
                .feature_extractors
                .iter()
                .find(|c| c.feature_extractor_id == choice.feature_extractor_id)
            {
                // Params are fixed at creation (its vectors were made with them): naming
                // the extractor again keeps them, and asking for others is refused.
                Some(existing) if asked.params.is_none() || *existing == choice => {
                    kept.push(existing.clone())
                }
                Some(_) => {
                    return Err(Error::field(
                        format!("feature_extractors[{i}].params"),
                        format!(
                            "{}'s params are fixed when it is added to the namespace",
                            choice.feature_extractor_id
                        ),
                    ))
                }
                None => kept.push(choice),
            }
        }
        if replace {
            next.feature_extractors = kept;
        } else {
            for choice in kept {
                if !next
                    .feature_extractors
                    .iter()
                    .any(|c| c.feature_extractor_id == choice.feature_extractor_id)
                {
                    next.feature_extractors.push(choice);
                }
            }
        }
    }
    next.updated_at = now_rfc3339();
    next.version = current.version + 1;

    let key = keys::namespace(org_id, &current.namespace_id);
    let mut ops = vec![Write::Put {
        item: to_item(&key, &next),
        cond: Cond::Equals("version".into(), json!(current.version)),
    }];
    if next.namespace_name != current.namespace_name {
        ops.push(Write::Delete {
            key: keys::namespace_name(org_id, &current.namespace_name),
            cond: Cond::Equals("namespace_id".into(), json!(current.namespace_id)),
        });
        ops.push(Write::create(pointer(
            &keys::namespace_name(org_id, &next.namespace_name),
            "namespace_id",
            &next.namespace_id,
        )));
    }
    // Extractors added now get their collections in the same transaction.
    let added = Namespace {
        feature_extractors: next
            .feature_extractors
            .iter()
            .filter(|e| {
                !current
                    .feature_extractors
                    .iter()
                    .any(|c| c.feature_extractor_id == e.feature_extractor_id)
            })
            .cloned()
            .collect(),
        ..next.clone()
    };
    ops.extend(super::collections::writes_for(&added));
    match ctx.table.transact(ops).await {
        Ok(()) => Ok(next),
        Err(StoreError::ConditionFailed { index: Some(2) }) => Err(Error::Conflict(format!(
            "a namespace named {:?} already exists",
            next.namespace_name
        ))),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::Conflict(
            "the namespace changed while this request ran; retry".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Hides the namespace and frees its name at once, then purges it in the background.
pub async fn delete(ctx: &AppContext, org_id: &str, ident: &str) -> Result<DeletionQueued, Error> {
    let ns = resolve(ctx, org_id, ident).await?;
    let task = tasks::new_task(
        org_id,
        Some(&ns.namespace_id),
        "api_namespaces_delete",
        vec![json!({"namespace_id": ns.namespace_id})],
    );
    let scope = PurgeScope::Namespace {
        namespace_id: ns.namespace_id.clone(),
    };
    // The message goes first; the task record committed below is what makes it real.
    purge::enqueue(ctx, org_id, &task.task_id, &scope).await?;
    let ops = vec![
        Write::Update {
            key: keys::namespace(org_id, &ns.namespace_id),
            updates: vec![
                Update::Set("status".into(), json!(RecordStatus::Deleting)),
                Update::Set("updated_at".into(), json!(now_rfc3339())),
            ],
            cond: Cond::Equals("status".into(), json!(RecordStatus::Active)),
        },
        Write::Delete {
            key: keys::namespace_name(org_id, &ns.namespace_name),
            cond: Cond::Equals("namespace_id".into(), json!(ns.namespace_id)),
        },
        tasks::create_write(&task),
        Write::Update {
            key: keys::org(org_id),
            updates: vec![Update::Add("namespace_count".into(), -1)],
            cond: Cond::Exists,
        },
    ];
    match ctx.table.transact(ops).await {
        Ok(()) => Ok(DeletionQueued {
            success: true,
            message: format!("namespace {} is being deleted", ns.namespace_id),
            namespace_id: Some(ns.namespace_id),
            bucket_id: None,
            task_id: task.task_id,
            status: TaskStatus::Pending,
        }),
        Err(StoreError::ConditionFailed { .. }) => {
            Err(Error::not_found(format!("namespace {ident:?}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The most namespaces one stats request may name.
pub const STATS_BATCH_LIMIT: usize = 100;

/// Counts from the counters buckets and collections keep as objects and documents are
/// written: one read per bucket and per collection item, never a scan of their contents.
pub async fn stats(ctx: &AppContext, ns: &Namespace) -> Result<NamespaceStats, Error> {
    let buckets = super::buckets::all(ctx, ns).await?;
    let collections = super::collections::all(ctx, &ns.namespace_id).await?;
    Ok(NamespaceStats {
        namespace_id: ns.namespace_id.clone(),
        bucket_count: buckets.len() as i64,
        object_count: buckets.iter().map(|b| b.object_count.max(0)).sum(),
        collection_count: collections.len() as i64,
        document_count: collections.iter().map(|c| c.document_count.max(0)).sum(),
        document_count_complete: true,
    })
}

/// Stats of several namespaces of the org (ids or names); an unknown one is a 422.
pub async fn stats_batch(
    ctx: &AppContext,
    org_id: &str,
    idents: &[String],
) -> Result<NamespaceStatsBatch, Error> {
    if idents.is_empty() || idents.len() > STATS_BATCH_LIMIT {
        return Err(Error::field(
            "namespace_ids",
            format!("name 1 to {STATS_BATCH_LIMIT} namespaces"),
        ));
    }
    let mut out = NamespaceStatsBatch {
        stats: Default::default(),
    };
    for ident in idents {
        let ns = resolve(ctx, org_id, ident).await.map_err(|_| {
            Error::field(
                "namespace_ids",
                format!("no namespace {ident:?} in this org"),
            )
        })?;
        out.stats.insert(ident.clone(), stats(ctx, &ns).await?);
    }
    Ok(out)
}

/// Makes the vector index of every collection that keeps vectors, if it is missing
/// (idempotent). Indexes are written vector by vector, so there is never a rebuild to ask for.
pub async fn ensure_indexes(
    ctx: &AppContext,
    ns: &Namespace,
    force_rebuild: bool,
) -> Result<IndexesEnsured, Error> {
    if force_rebuild {
        return Err(Error::field(
            "force_rebuild",
            "Sluice writes each vector with its document, so an index is never rebuilt; omit it",
        ));
    }
    let mut indexes = Vec::new();
    for c in super::collections::all(ctx, &ns.namespace_id).await? {
        if !extractors::writes_embeddings(&c.feature_extractor.feature_extractor_name) {
            continue;
        }
        let dimensions = EmbeddingSpec::of(c.feature_extractor.params.as_ref()).dimensions;
        ctx.vectors
            .ensure_index(&c.collection_id, dimensions)
            .await?;
        indexes.push(IndexState {
            collection_id: c.collection_id,
            dimensions,
            status: "ready".into(),
        });
    }
    Ok(IndexesEnsured {
        namespace_id: ns.namespace_id.clone(),
        message: format!("{} vector indexes ready", indexes.len()),
        indexes,
    })
}

/// The extractors the namespace runs, as the catalogue describes them, with the
/// parameters the namespace chose.
pub fn extractors_of(ns: &Namespace) -> NamespaceExtractors {
    let extractors: Vec<ExtractorView> = ns
        .feature_extractors
        .iter()
        .filter_map(|choice| {
            let spec = extractors::find(&choice.feature_extractor_name, &choice.version)?;
            let mut view = ExtractorView::from(spec);
            if let Some(params) = &choice.params {
                view.default_parameters.extend(params.clone());
            }
            Some(view)
        })
        .collect();
    NamespaceExtractors {
        success: true,
        namespace_id: ns.namespace_id.clone(),
        total: extractors.len(),
        builtin_count: extractors.len(),
        custom_count: 0,
        extractors,
    }
}
