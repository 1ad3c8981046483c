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

async fn collection_of(ctx: &AppContext, c: &Caller, req: &ApiRequest) -> Reply<Collection> {
    let id = req.param("collection_identifier")?;
    Ok(collections::get(ctx, c.namespace()?, id).await?)
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
