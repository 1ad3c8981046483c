//! Documents created, changed and deleted through the API. Every change keeps the
//! document's vector and its collection's `document_count` in step, is a conditional
//! write on the document's version (a concurrent change is a 409, never lost), and is
//! announced as `document.created`, `document.updated` or `document.deleted`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{count_write, put_vectors, remove, stored, Document, DocumentOrigin};
use crate::app::from_item;
use crate::app::lists::{all_items, Filter};
use crate::app::views::{
    record, DocumentOutcome, DocumentValidation, DocumentView, DOCUMENT_FIXED,
};
use crate::context::AppContext;
use crate::domain::collection::Collection;
use crate::domain::embedding::EmbeddingSpec;
use crate::domain::entities::{Namespace, Object};
use crate::domain::events::EventType;
use crate::domain::extractors::writes_embeddings;
use crate::domain::ids::IdKind;
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Event, StoreError, Write};
use crate::store::index;

/// Documents one batch request may name (ids or updates).
pub const BATCH_LIMIT: usize = 1000;
/// Documents one bulk update or filtered delete may change; more is a 422 asking for a
/// narrower filter (the response says how many matched).
pub const BULK_LIMIT: usize = 10_000;

/// Fields a request cannot set: those a document's view shows from its provenance
/// (`DOCUMENT_FIXED`), and these of Mixpeek's that Sluice keeps for itself.
const ALSO_RESERVED: &[&str] = &["root_bucket_id", "_internal", "document_blobs"];

/// Whether a document field is Sluice's to keep (a request cannot write it).
pub fn is_reserved(field: &str) -> bool {
    DOCUMENT_FIXED.contains(&field) || ALSO_RESERVED.contains(&field)
}

/// `POST /v1/collections/{id}/documents`: a document the caller writes itself. Keys this
/// body does not name become the document's fields.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CreateDocument {
    /// Must be the collection of the path when given.
    pub collection_id: Option<String>,
    /// The object it derives from (with `root_bucket_id`); it must exist.
    pub root_object_id: Option<String>,
    pub root_bucket_id: Option<String>,
    pub source_object_id: Option<String>,
    pub source_type: Option<String>,
    pub source_collection_id: Option<String>,
    pub source_document_id: Option<String>,
    pub lineage_path: Option<String>,
    pub lineage_chain: Option<Vec<Value>>,
    pub content_hash: Option<String>,
    pub document_schema_version: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub features: Option<Vec<Value>>,
    /// `{"embedding": [..]}`: the document's vector, of the collection's dimensions.
    /// Without it, a `text` field is embedded by the collection's model.
    pub vectors: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// A PATCH (fields merged) or PUT (fields replaced) of a document: its fields, with
/// `vectors` as on create.
pub type DocumentChange = Map<String, Value>;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAcl {
    pub read: Option<Vec<String>>,
    pub write: Option<Vec<String>>,
    pub public: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentUpdate {
    pub document_id: String,
    pub update_data: DocumentChange,
}

/// `POST …/documents/batch`: per-document changes, or one change to what `filters`
/// match.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchUpdate {
    pub updates: Option<Vec<DocumentUpdate>>,
    pub filters: Option<Value>,
    pub update_data: Option<DocumentChange>,
}

/// `PATCH …/documents/bulk`: one change to every document `filters` match.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkUpdate {
    pub filters: Option<Value>,
    pub update_data: DocumentChange,
}

/// `DELETE …/documents/batch`: documents by id, or what `filters` match.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchDelete {
    pub document_ids: Option<Vec<String>>,
    pub filters: Option<Value>,
    pub reason: Option<String>,
}

/// Who is writing: the namespace and the API key (for ACLs and events).
pub struct Writer<'a> {
    pub namespace: &'a Namespace,
    pub key_id: Option<&'a str>,
}

pub async fn create(
    ctx: &AppContext,
    by: &Writer<'_>,
    collection: &Collection,
    root: Option<&Object>,
    req: CreateDocument,
) -> Result<DocumentView, Error> {
    if req
        .collection_id
        .as_ref()
        .is_some_and(|c| c != &collection.collection_id)
    {
        return Err(Error::field(
            "collection_id",
            format!("the path names collection {}", collection.collection_id),
        ));
    }
    let fields = created_fields(&req)?;
    let document_id = IdKind::Document.new_id();
    let mut doc = Document {
        document_id,
        collection_id: collection.collection_id.clone(),
        namespace_id: by.namespace.namespace_id.clone(),
        bucket_id: root.map(|o| o.bucket_id.clone()).unwrap_or_default(),
        object_id: root.map(|o| o.object_id.clone()).unwrap_or_default(),
        batch_id: String::new(),
        feature_extractor: collection.feature_extractor.clone(),
        index: 0,
        fields,
        created_at: now_rfc3339(),
        origin: DocumentOrigin::Created,
        updated_at: None,
        counted_by: None,
        acl: None,
        version: 0,
        lifecycle: None,
        retired_vector: None,
        embedding: None,
    };
    doc.embedding = match req.vectors.as_ref() {
        Some(v) => Some(given_vector(collection, v, "vectors")?),
        None => embedded_text(ctx, collection, &doc).await?,
    };
    index_vector(ctx, &doc).await?;
    ctx.table
        .transact(vec![
            Write::create(doc.to_item()),
            Write::create(doc.ref_item()),
            count_write(&collection.namespace_id, &collection.collection_id, 1),
        ])
        .await?;
    announce(ctx, by, EventType::DocumentCreated, &doc).await?;
    Ok(DocumentView::from(&doc))
}

/// Merges (`replace: false`) or replaces the fields of a document of `collection`.
pub async fn change(
    ctx: &AppContext,
    by: &Writer<'_>,
    collection: &Collection,
    document_id: &str,
    change: DocumentChange,
    replace: bool,
) -> Result<DocumentView, Error> {
    let current = writable(ctx, by, collection, document_id).await?;
    let doc = changed(ctx, collection, current, change, replace).await?;
    Ok(DocumentView::from(&doc.announced(ctx, by).await?))
}

/// Sets the document's ACL (what the request leaves out stays as it was).
pub async fn update_acl(
    ctx: &AppContext,
    by: &Writer<'_>,
    collection: &Collection,
    document_id: &str,
    req: UpdateAcl,
) -> Result<DocumentView, Error> {
    let mut doc = writable(ctx, by, collection, document_id).await?;
    let mut acl = doc.acl.clone().unwrap_or_default();
    for (field, list) in [("read", &req.read), ("write", &req.write)] {
        if list.as_ref().is_some_and(|l| l.len() > 100) {
            return Err(Error::field(field, "names at most 100 API keys"));
        }
    }
    acl.read = req.read.unwrap_or(acl.read);
    acl.write = req.write.unwrap_or(acl.write);
    acl.public = req.public.unwrap_or(acl.public);
    doc.acl = Some(acl);
    store_change(ctx, &mut doc).await?;
    Ok(DocumentView::from(&doc.announced(ctx, by).await?))
}

pub async fn delete(
    ctx: &AppContext,
    by: &Writer<'_>,
    collection: &Collection,
    document_id: &str,
) -> Result<(), Error> {
    let doc = writable(ctx, by, collection, document_id).await?;
    remove(ctx, &[doc.to_item()]).await?;
    announce(ctx, by, EventType::DocumentDeleted, &doc).await
}

/// `POST …/documents/batch`: each update on its own (one failing does not stop the
/// others), or one change to every document `filters` match.
pub async fn batch_update(
    ctx: &AppContext,
    by: &Writer<'_>,
    collection: &Collection,
    req: BatchUpdate,
) -> Result<Vec<DocumentOutcome>, Error> {
    match (req.updates, req.filters, req.update_data) {
        (Some(updates), None, None) => {
            if updates.is_empty() || updates.len() > BATCH_LIMIT {
                return Err(Error::field(
                    "updates",
                    format!("name 1 to {BATCH_LIMIT} documents"),
                ));
            }
            let mut out = Vec::with_capacity(updates.len());
            for u in updates {
                let result =
                    change(ctx, by, collection, &u.document_id, u.update_data, false).await;
                out.push(outcome(u.document_id, result.map(|_| ())));
            }
            Ok(out)
        }
        (None, filters, Some(data)) => {
            bulk_update(
                ctx,
                by,
                collection,
                BulkUpdate {
                    filters,
                    update_data: data,
                },
            )
            .await
        }
        _ => Err(Error::field(
            "updates",
            "give `updates`, or `update_data` with optional `filters`",
        )),
    }
}

/// `PATCH …/documents/bulk`: merges `update_data` into every document `filters` match.
pub async fn bulk_update(
    ctx: &AppContext,
    by: &Writer<'_>,
    collection: &Collection,
    req: BulkUpdate,
) -> Result<Vec<DocumentOutcome>, Error> {
    check_change(&req.update_data)?;
    let ids = matching(ctx, by, collection, req.filters.as_ref()).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let result = change(ctx, by, collection, &id, req.update_data.clone(), false).await;
        out.push(outcome(id, result.map(|_| ())));
    }
    Ok(out)
}

/// `DELETE …/documents/batch`.
pub async fn batch_delete(
    ctx: &AppContext,
    by: &Writer<'_>,
    collection: &Collection,
    req: BatchDelete,
) -> Result<Vec<DocumentOutcome>, Error> {
    if req.reason.as_ref().is_some_and(|r| r.len() > 500) {
        return Err(Error::field("reason", "at most 500 characters"));
    }
    let ids = match (req.document_ids, req.filters) {
        (Some(ids), None) if !ids.is_empty() && ids.len() <= BATCH_LIMIT => ids,
        (Some(_), None) => {
            return Err(Error::field(
                "document_ids",
                format!("name 1 to {BATCH_LIMIT} documents"),
            ))
        }
        (None, Some(filters)) => matching(ctx, by, collection, Some(&filters)).await?,
        _ => {
            return Err(Error::field(
                "document_ids",
                "give `document_ids` or `filters`, not both",
            ))
        }
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let result = delete(ctx, by, collection, &id).await;
        out.push(outcome(id, result));
    }
    Ok(out)
}

fn outcome(document_id: String, result: Result<(), Error>) -> DocumentOutcome {
    DocumentOutcome {
        document_id,
        success: result.is_ok(),
        error: result.err().map(|e| e.to_string()),
    }
}

/// The ids of the collection's documents `filters` match (all of them without), at most
/// [`BULK_LIMIT`].
async fn matching(
    ctx: &AppContext,
    by: &Writer<'_>,
    collection: &Collection,
    filters: Option<&Value>,
) -> Result<Vec<String>, Error> {
    let filter = Filter::optional(filters)?;
    let query = index::collection_documents(&collection.collection_id);
    let mut ids = Vec::new();
    for item in all_items(ctx.table.as_ref(), query).await? {
        let d: Document = from_item(item)?;
        let view = record(&DocumentView::from(&d))?;
        if d.may_read(by.key_id) && filter.as_ref().is_none_or(|f| f.matches(&view)) {
            ids.push(d.document_id);
        }
        if ids.len() > BULK_LIMIT {
            return Err(Error::field(
                "filters",
                format!("match more than {BULK_LIMIT} documents; narrow them"),
            ));
        }
    }
    Ok(ids)
}

/// The stored document, if the caller's key may change it.
async fn writable(
    ctx: &AppContext,
    by: &Writer<'_>,
    collection: &Collection,
    document_id: &str,
) -> Result<Document, Error> {
    let doc = stored(
        ctx,
        &by.namespace.namespace_id,
        Some(&collection.collection_id),
        document_id,
    )
    .await?;
    if !doc.may_read(by.key_id) {
        return Err(Error::not_found(format!("document {document_id:?}")));
    }
    if !doc.may_write(by.key_id) {
        return Err(Error::Forbidden(format!(
            "this API key may not change document {document_id:?} (its ACL)"
        )));
    }
    Ok(doc)
}

async fn changed(
    ctx: &AppContext,
    collection: &Collection,
    mut doc: Document,
    mut change: DocumentChange,
    replace: bool,
) -> Result<Document, Error> {
    check_change(&change)?;
    let vectors = change.remove("vectors");
    let old_text = doc.fields.get("text").cloned();
    if replace {
        let kept = [
            "modality",
            "source_blob",
            "embedding_model",
            "embedding_input",
        ];
        doc.fields.retain(|k, _| kept.contains(&k.as_str()));
    }
    doc.fields.extend(change);
    match vectors {
        Some(Value::Object(v)) => doc.embedding = Some(given_vector(collection, &v, "vectors")?),
        Some(_) => return Err(Error::field("vectors", "must be an object of vectors")),
        None if doc.fields.get("text") != old_text.as_ref() => {
            doc.embedding = embedded_text(ctx, collection, &doc).await?;
        }
        None => {}
    }
    if doc.embedding.is_some() {
        index_vector(ctx, &doc).await?;
    }
    store_change(ctx, &mut doc).await?;
    Ok(doc)
}

fn check_change(change: &DocumentChange) -> Result<(), Error> {
    if let Some(k) = change.keys().find(|k| is_reserved(k)) {
        return Err(Error::field(
            k.clone(),
            "is kept by Sluice and cannot be written",
        ));
    }
    if change.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(Error::field("metadata", "must be an object"));
    }
    Ok(())
}

/// Writes the changed document over the version read (a concurrent change is a 409).
async fn store_change(ctx: &AppContext, doc: &mut Document) -> Result<(), Error> {
    let read = doc.version;
    doc.version += 1;
    doc.updated_at = Some(now_rfc3339());
    let put = Write::Put {
        item: doc.to_item(),
        cond: Cond::Equals("version".into(), json!(read)),
    };
    match ctx.table.write(put).await {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::Conflict(format!(
            "document {} changed (or was deleted) while this request ran; read it again",
            doc.document_id
        ))),
        Err(e) => Err(e.into()),
    }
}

impl Document {
    async fn announced(self, ctx: &AppContext, by: &Writer<'_>) -> Result<Document, Error> {
        announce(ctx, by, EventType::DocumentUpdated, &self).await?;
        Ok(self)
    }
}

async fn announce(
    ctx: &AppContext,
    by: &Writer<'_>,
    event_type: EventType,
    doc: &Document,
) -> Result<(), Error> {
    let event = Event {
        event_id: IdKind::Event.new_id(),
        event_type,
        org_id: by.namespace.org_id.clone(),
        namespace_id: Some(doc.namespace_id.clone()),
        created_at: now_rfc3339(),
        data: json!({
            "document_id": doc.document_id,
            "collection_id": doc.collection_id,
            "object_id": (!doc.object_id.is_empty()).then_some(&doc.object_id),
        }),
    };
    crate::app::events::publish(ctx, vec![event]).await
}

/// A created document's fields: its lineage and what the request adds.
fn created_fields(req: &CreateDocument) -> Result<Map<String, Value>, Error> {
    check_change(&req.fields)?;
    let mut fields = req.fields.clone();
    let lineage = [
        ("source_type", req.source_type.clone().map(Value::from)),
        (
            "source_collection_id",
            req.source_collection_id.clone().map(Value::from),
        ),
        (
            "source_document_id",
            req.source_document_id.clone().map(Value::from),
        ),
        ("lineage_path", req.lineage_path.clone().map(Value::from)),
        ("lineage_chain", req.lineage_chain.clone().map(Value::from)),
        ("content_hash", req.content_hash.clone().map(Value::from)),
        (
            "document_schema_version",
            req.document_schema_version.clone().map(Value::from),
        ),
        ("metadata", req.metadata.clone().map(Value::Object)),
        ("features", req.features.clone().map(Value::from)),
    ];
    for (k, v) in lineage {
        if let Some(v) = v {
            fields.insert(k.into(), v);
        }
    }
    Ok(fields)
}

/// The one vector a request may give: `embedding`, of the collection's dimensions.
fn given_vector(
    collection: &Collection,
    vectors: &Map<String, Value>,
    field: &str,
) -> Result<Vec<f32>, Error> {
    if !writes_embeddings(&collection.feature_extractor.feature_extractor_name) {
        return Err(Error::field(
            field,
            format!(
                "collection {} ({}) keeps no vectors",
                collection.collection_name, collection.feature_extractor.feature_extractor_name
            ),
        ));
    }
    let (name, values) = match vectors.iter().next() {
        Some(entry) if vectors.len() == 1 => entry,
        _ => return Err(Error::field(field, "give one vector, named \"embedding\"")),
    };
    if name != "embedding" {
        return Err(Error::field(
            format!("{field}.{name}"),
            "the collection's one vector is \"embedding\"",
        ));
    }
    let dims = EmbeddingSpec::of(collection.feature_extractor.params.as_ref()).dimensions;
    let vector: Vec<f32> = values
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_f64)
                .map(|x| x as f32)
                .collect()
        })
        .unwrap_or_default();
    let finite = vector.iter().all(|x| x.is_finite());
    if vector.len() != dims || !finite || values.as_array().map(Vec::len) != Some(dims) {
        return Err(Error::field(
            format!("{field}.embedding"),
            format!("must be {dims} finite numbers (the collection's model)"),
        ));
    }
    Ok(vector)
}

/// The document's `text`, embedded by its collection's model, when the collection keeps
/// vectors and the document's vector is of its text (not of an image or a clip).
async fn embedded_text(
    ctx: &AppContext,
    collection: &Collection,
    doc: &Document,
) -> Result<Option<Vec<f32>>, Error> {
    let from_text = match doc.fields.get("embedding_input").and_then(Value::as_str) {
        None | Some("caption") => true,
        Some(_) => false,
    };
    let text = doc.fields.get("text").and_then(Value::as_str).unwrap_or("");
    if !writes_embeddings(&collection.feature_extractor.feature_extractor_name)
        || !from_text
        || text.trim().is_empty()
    {
        return Ok(doc.embedding.clone().filter(|_| !from_text));
    }
    let spec = EmbeddingSpec::of(collection.feature_extractor.params.as_ref());
    let embedder = ctx
        .embedders
        .get(&spec)
        .map_err(|e| Error::NotReady(e.to_string()))?;
    let mut vectors = embedder
        .embed_texts(&[text.to_string()])
        .await
        .map_err(|e| Error::NotReady(e.to_string()))?;
    Ok(vectors.pop())
}

async fn index_vector(ctx: &AppContext, doc: &Document) -> Result<(), Error> {
    match doc.vector_record() {
        Some(record) => put_vectors(ctx, &doc.collection_id, vec![record]).await,
        None => Ok(()),
    }
}

/// What a create or change would say of `body`, written nowhere: `valid`, or each refusal
/// with its field.
pub fn validate(collection: &Collection, body: &DocumentChange) -> DocumentValidation {
    let mut errors = Vec::new();
    let mut refuse = |e: Error| {
        if let Error::Invalid { details, .. } = e {
            errors.push(details);
        }
    };
    let mut fields = body.clone();
    let vectors = fields.remove("vectors");
    if let Err(e) = check_change(&fields) {
        refuse(e);
    }
    match vectors {
        Some(Value::Object(v)) => {
            if let Err(e) = given_vector(collection, &v, "vectors") {
                refuse(e);
            }
        }
        Some(_) => refuse(Error::field("vectors", "must be an object of vectors")),
        None => {}
    }
    DocumentValidation {
        valid: errors.is_empty(),
        errors,
        collection_id: collection.collection_id.clone(),
    }
}
