//! Documents: what extractors wrote, by object, collection or id; and documents created,
//! changed and deleted through the API.

use super::prelude::*;
use super::shared::*;

routes! {
    /// The documents extracted from an object
    OBJECTS_DOCUMENTS: GET "/v1/buckets/{bucket_identifier}/objects/{object_identifier}/documents" => objects_documents -> Page<DocumentView> {}

    /// List a collection's documents
    COLLECTIONS_DOCUMENTS_LIST: POST "/v1/collections/{collection_identifier}/documents/list" => collections_documents_list -> Page<DocumentView> {
        request_body: Some(optional::<ListRequest>()),
    }

    /// List a collection's documents (query parameters)
    COLLECTIONS_DOCUMENTS_LIST_GET: GET "/v1/collections/{collection_identifier}/documents" => collections_documents_list_get -> Page<DocumentView> {}

    /// Count a collection's documents (a counter kept as they are written, not a scan)
    COLLECTIONS_DOCUMENTS_COUNT: GET "/v1/collections/{collection_identifier}/documents/count" => collections_documents_count -> DocumentCount {}

    /// Create a document in a collection (its `text` is embedded, or its `vectors` kept)
    COLLECTIONS_DOCUMENTS_CREATE: POST "/v1/collections/{collection_identifier}/documents" => collections_documents_create -> DocumentView {
        request_body: Some(required::<documents::CreateDocument>()),
        embeds: true,
        permissions: &[ReadTable, WriteTable, PutVectors, InvokeBedrock, PublishEvents],
    }

    /// Get a document of a collection
    COLLECTIONS_DOCUMENTS_GET: GET "/v1/collections/{collection_identifier}/documents/{document_id}" => collections_documents_get -> DocumentView {}

    /// Change some fields of a document (a changed `text` is embedded again)
    COLLECTIONS_DOCUMENTS_PATCH: PATCH "/v1/collections/{collection_identifier}/documents/{document_id}" => collections_documents_patch -> DocumentView {
        request_body: Some(required::<documents::DocumentChange>()),
        embeds: true,
        permissions: &[ReadTable, WriteTable, PutVectors, InvokeBedrock, PublishEvents],
    }

    /// Replace the fields of a document
    COLLECTIONS_DOCUMENTS_UPDATE: PUT "/v1/collections/{collection_identifier}/documents/{document_id}" => collections_documents_update -> DocumentView {
        request_body: Some(required::<documents::DocumentChange>()),
        embeds: true,
        permissions: &[ReadTable, WriteTable, PutVectors, InvokeBedrock, PublishEvents],
    }

    /// Delete a document with its vector
    COLLECTIONS_DOCUMENTS_DELETE: DELETE "/v1/collections/{collection_identifier}/documents/{document_id}" => collections_documents_delete -> Done {
        permissions: &[ReadTable, WriteTable, DeleteVectors, DeleteBlobs, PublishEvents],
    }

    /// Set who may read and change a document
    COLLECTIONS_DOCUMENTS_ACL: PATCH "/v1/collections/{collection_identifier}/documents/{document_id}/acl" => collections_documents_acl -> DocumentView {
        request_body: Some(required::<documents::UpdateAcl>()),
        permissions: &[ReadTable, WriteTable, PublishEvents],
    }

    /// Change documents by id, or what filters match
    COLLECTIONS_DOCUMENTS_BATCH_UPDATE: POST "/v1/collections/{collection_identifier}/documents/batch" => collections_documents_batch_update -> DocumentsChanged {
        request_body: Some(required::<documents::BatchUpdate>()),
        embeds: true,
        permissions: &[ReadTable, WriteTable, PutVectors, InvokeBedrock, PublishEvents],
    }

    /// Merge one change into every document filters match
    COLLECTIONS_DOCUMENTS_BULK_UPDATE: PATCH "/v1/collections/{collection_identifier}/documents/bulk" => collections_documents_bulk_update -> DocumentsChanged {
        request_body: Some(required::<documents::BulkUpdate>()),
        embeds: true,
        permissions: &[ReadTable, WriteTable, PutVectors, InvokeBedrock, PublishEvents],
    }

    /// Delete documents by id, or what filters match
    COLLECTIONS_DOCUMENTS_BATCH_DELETE: DELETE "/v1/collections/{collection_identifier}/documents/batch" => collections_documents_batch_delete -> DocumentsDeleted {
        request_body: Some(required::<documents::BatchDelete>()),
        permissions: &[ReadTable, WriteTable, DeleteVectors, DeleteBlobs, PublishEvents],
    }

    /// Group a collection's documents and compute metrics per group
    COLLECTIONS_DOCUMENTS_AGGREGATE: POST "/v1/collections/{collection_identifier}/documents/aggregate" => collections_documents_aggregate -> AggregationResult {
        request_body: Some(required::<Aggregation>()),
    }

    /// The distinct values of a field over a collection's documents, with counts
    COLLECTIONS_DOCUMENTS_DISTINCT: POST "/v1/collections/{collection_identifier}/documents/distinct" => collections_documents_distinct -> documents::Distinct {
        request_body: Some(required::<documents::DistinctValues>()),
    }

    /// Check a document body against what a create or change accepts, writing nothing
    COLLECTIONS_DOCUMENTS_VALIDATE: POST "/v1/collections/{collection_identifier}/documents/schema/validate" => collections_documents_validate -> DocumentValidation {
        request_body: Some(required::<documents::DocumentChange>()),
    }

    /// Where a document came from: documents it derives from, then its batch, blob and object
    COLLECTIONS_DOCUMENTS_ANCESTORS: GET "/v1/collections/{collection_identifier}/documents/{document_id}/ancestors" => collections_documents_ancestors -> Vec<Value> {}

    /// Documents derived from a document
    COLLECTIONS_DOCUMENTS_DESCENDANTS: GET "/v1/collections/{collection_identifier}/documents/{document_id}/descendants" => collections_documents_descendants -> Vec<Value> {}

    /// How a document was made, and whether search finds it
    COLLECTIONS_DOCUMENTS_DIAGNOSTICS: GET "/v1/collections/{collection_identifier}/documents/{document_id}/diagnostics" => collections_documents_diagnostics -> DocumentDiagnostics {}

    /// A URL for the media behind a document (its segment's times with it)
    COLLECTIONS_DOCUMENTS_DOWNLOAD: GET "/v1/collections/{collection_identifier}/documents/{document_id}/download" => collections_documents_download -> MediaLink {
        permissions: &[ReadTable, GetBlobs],
    }

    /// List a namespace's documents across its collections
    DOCUMENTS_LIST: POST "/v1/documents/list" => documents_list -> Page<DocumentView> {
        request_body: Some(optional::<documents::NamespaceList>()),
    }

    /// Several document lists in one request, each under its key
    DOCUMENTS_LIST_BATCH: POST "/v1/documents/list/batch" => documents_list_batch -> ListBatchResults {
        request_body: Some(required::<ListBatch>()),
    }

    /// Get a document by id
    DOCUMENTS_GET: GET "/v1/documents/{document_id}" => documents_get -> DocumentView {}

    /// Change some fields of a document by id alone
    DOCUMENTS_PATCH: PATCH "/v1/documents/{document_id}" => documents_patch -> DocumentView {
        request_body: Some(required::<documents::DocumentChange>()),
        embeds: true,
        permissions: &[ReadTable, WriteTable, PutVectors, InvokeBedrock, PublishEvents],
    }

    /// Replace the fields of a document by id alone
    DOCUMENTS_UPDATE: PUT "/v1/documents/{document_id}" => documents_update -> DocumentView {
        request_body: Some(required::<documents::DocumentChange>()),
        embeds: true,
        permissions: &[ReadTable, WriteTable, PutVectors, InvokeBedrock, PublishEvents],
    }

    /// Get documents by id (those not found are named)
    DOCUMENTS_BATCH_GET: POST "/v1/documents/batch-get" => documents_batch_get -> DocumentsFound {
        request_body: Some(required::<documents::BatchGet>()),
    }
}

async fn objects_documents(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<DocumentView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let object = objects::get(&ctx, &bucket, req.param("object_identifier")?).await?;
    let reader = key_id(&c);
    Ok(documents::list_for_object(&ctx, &bucket, &object.object_id, &list, reader).await?)
}

async fn collections_documents_list(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<DocumentView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    let collection = collection_of(&ctx, &c, &req).await?;
    Ok(documents::list_for_collection(&ctx, &collection, &list, key_id(&c)).await?)
}

async fn collections_documents_list_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<DocumentView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    let collection = collection_of(&ctx, &c, &req).await?;
    Ok(documents::list_for_collection(&ctx, &collection, &list, key_id(&c)).await?)
}

async fn collections_documents_count(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentCount> {
    let collection = collection_of(&ctx, &c, &req).await?;
    Ok(DocumentCount {
        collection_id: collection.collection_id,
        count: collection.document_count.max(0),
    })
}

async fn collections_documents_create(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentView> {
    let body: documents::CreateDocument = req.json()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    let root = match (&body.root_bucket_id, &body.root_object_id) {
        (Some(bucket), Some(object)) => {
            let bucket = buckets::resolve(&ctx, c.namespace()?, bucket).await?;
            Some(objects::get(&ctx, &bucket, object).await?)
        }
        (None, None) => None,
        _ => {
            return Err(ApiError::field(
                "root_object_id",
                "name the root object with both root_bucket_id and root_object_id",
            ))
        }
    };
    let by = writer(&c)?;
    Ok(documents::create(&ctx, &by, &collection, root.as_ref(), body).await?)
}

async fn collections_documents_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentView> {
    let ns = c.namespace()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    let id = req.param("document_id")?;
    let doc = documents::get(&ctx, ns, Some(&collection.collection_id), id, key_id(&c)).await?;
    Ok(doc)
}

async fn change_in_collection(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
    replace: bool,
) -> Reply<DocumentView> {
    let body: documents::DocumentChange = req.json()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    let id = req.param("document_id")?;
    let by = writer(&c)?;
    Ok(documents::change(&ctx, &by, &collection, id, body, replace).await?)
}

async fn collections_documents_patch(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentView> {
    change_in_collection(ctx, c, req, false).await
}

async fn collections_documents_update(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentView> {
    change_in_collection(ctx, c, req, true).await
}

async fn collections_documents_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    let collection = collection_of(&ctx, &c, &req).await?;
    let id = req.param("document_id")?;
    documents::delete(&ctx, &writer(&c)?, &collection, id).await?;
    Ok(Done::new(format!("document {id} deleted")))
}

async fn collections_documents_acl(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentView> {
    let body: documents::UpdateAcl = req.json()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    let id = req.param("document_id")?;
    Ok(documents::update_acl(&ctx, &writer(&c)?, &collection, id, body).await?)
}

async fn collections_documents_batch_update(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentsChanged> {
    let body: documents::BatchUpdate = req.json()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    let results = documents::batch_update(&ctx, &writer(&c)?, &collection, body).await?;
    Ok(DocumentsChanged::new(results))
}

async fn collections_documents_bulk_update(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentsChanged> {
    let body: documents::BulkUpdate = req.json()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    let results = documents::bulk_update(&ctx, &writer(&c)?, &collection, body).await?;
    Ok(DocumentsChanged::new(results))
}

async fn collections_documents_batch_delete(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentsDeleted> {
    let body: documents::BatchDelete = req.json()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    let results = documents::batch_delete(&ctx, &writer(&c)?, &collection, body).await?;
    Ok(DocumentsDeleted::new(results))
}

async fn documents_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DocumentView> {
    let id = req.param("document_id")?;
    let doc = documents::get(&ctx, c.namespace()?, None, id, key_id(&c)).await?;
    Ok(doc)
}

/// A change by document id alone: the document's collection decides how it is embedded.
async fn change_by_id(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
    replace: bool,
) -> Reply<DocumentView> {
    let body: documents::DocumentChange = req.json()?;
    let ns = c.namespace()?;
    let id = req.param("document_id")?;
    let doc = documents::stored(&ctx, &ns.namespace_id, None, id).await?;
    let collection = collections::get(&ctx, ns, &doc.collection_id).await?;
    Ok(documents::change(&ctx, &writer(&c)?, &collection, id, body, replace).await?)
}

async fn documents_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DocumentView> {
    change_by_id(ctx, c, req, false).await
}

async fn documents_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DocumentView> {
    change_by_id(ctx, c, req, true).await
}

async fn documents_batch_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DocumentsFound> {
    let body: documents::BatchGet = req.json()?;
    Ok(documents::batch_get(&ctx, c.namespace()?, &body, key_id(&c)).await?)
}

async fn collections_documents_aggregate(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<AggregationResult> {
    let body: Aggregation = req.json()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    Ok(documents::aggregate(&ctx, &collection, body, key_id(&c)).await?)
}

async fn collections_documents_distinct(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<documents::Distinct> {
    let body: documents::DistinctValues = req.json()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    Ok(documents::distinct(&ctx, &collection, body, key_id(&c)).await?)
}

async fn collections_documents_validate(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentValidation> {
    let body: documents::DocumentChange = req.json()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    Ok(documents::validate(&collection, &body))
}

/// The document of a lineage route, if the caller's key may read it.
async fn readable_document(
    ctx: &AppContext,
    c: &Caller,
    req: &ApiRequest,
) -> Result<documents::Document, ApiError> {
    let collection = collection_of(ctx, c, req).await?;
    let id = req.param("document_id")?;
    let ns = c.namespace()?;
    let doc = documents::stored(ctx, &ns.namespace_id, Some(&collection.collection_id), id).await?;
    if !doc.may_read(key_id(c)) {
        return Err(ApiError::not_found(format!("document {id:?}")));
    }
    Ok(doc)
}

async fn collections_documents_ancestors(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Vec<Value>> {
    let doc = readable_document(&ctx, &c, &req).await?;
    Ok(lineage::ancestors(&ctx, c.namespace()?, &doc, key_id(&c)).await?)
}

async fn collections_documents_descendants(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Vec<Value>> {
    let doc = readable_document(&ctx, &c, &req).await?;
    Ok(lineage::descendants(&ctx, c.namespace()?, &doc, key_id(&c)).await?)
}

async fn collections_documents_diagnostics(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentDiagnostics> {
    let doc = readable_document(&ctx, &c, &req).await?;
    Ok(lineage::diagnostics(&ctx, &doc).await?)
}

async fn collections_documents_download(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<MediaLink> {
    let doc = readable_document(&ctx, &c, &req).await?;
    Ok(lineage::media(&ctx, &doc).await?)
}

/// The collections a namespace-wide list reads: those named (a 422 names the unknown
/// ones), or every one.
async fn listed_collections(
    ctx: &AppContext,
    c: &Caller,
    named: Option<&[String]>,
) -> Result<Vec<Collection>, ApiError> {
    let ns = c.namespace()?;
    let Some(named) = named else {
        return Ok(collections::all(ctx, &ns.namespace_id).await?);
    };
    let mut out = Vec::with_capacity(named.len());
    let mut unknown = Vec::new();
    for ident in named {
        match collections::get(ctx, ns, ident).await {
            Ok(col) => out.push(col),
            Err(_) => unknown.push(ident.clone()),
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::field(
            "collection_ids",
            format!("no such collections in this namespace: {unknown:?}"),
        ));
    }
    Ok(out)
}

async fn documents_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<DocumentView>> {
    let mut body: documents::NamespaceList = req.json_or_default()?;
    let query = ListRequest::default().merge_query(&req.query)?;
    // The SDK always sends the body's default limit (10): a query parameter is the
    // caller's own choice, so it wins.
    body.limit = query.limit.or(query.page_size).or(body.limit);
    body.cursor = query.cursor.or(body.cursor);
    let collections = listed_collections(&ctx, &c, body.collection_ids.as_deref()).await?;
    Ok(documents::list_in_namespace(&ctx, &collections, &body, key_id(&c)).await?)
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    key: String,
    request: documents::NamespaceList,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListBatch {
    /// At most 20 lists.
    queries: Vec<ListQuery>,
}

async fn documents_list_batch(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<ListBatchResults> {
    let body: ListBatch = req.json()?;
    if body.queries.is_empty() || body.queries.len() > 20 {
        return Err(ApiError::field("queries", "name 1 to 20 lists"));
    }
    let mut results = Vec::with_capacity(body.queries.len());
    for q in body.queries {
        let listed = async {
            let collections =
                listed_collections(&ctx, &c, q.request.collection_ids.as_deref()).await?;
            Ok::<_, ApiError>(
                documents::list_in_namespace(&ctx, &collections, &q.request, key_id(&c)).await?,
            )
        }
        .await;
        let (response, error) = match listed {
            Ok(page) => (Some(page), None),
            Err(e) => (None, Some(e.to_string())),
        };
        results.push(ListBatchResult {
            key: q.key,
            response,
            error,
        });
    }
    Ok(ListBatchResults { results })
}
