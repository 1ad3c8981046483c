//! Documents: what extractors wrote, by object, collection or id.

use super::prelude::*;
use super::shared::*;

routes! {
    /// The documents extracted from an object
    OBJECTS_DOCUMENTS: GET "/v1/buckets/{bucket_identifier}/objects/{object_identifier}/documents" => objects_documents -> Page<DocumentView> {}

    /// List a collection's documents
    COLLECTIONS_DOCUMENTS_LIST: POST "/v1/collections/{collection_identifier}/documents/list" => collections_documents_list -> Page<DocumentView> {
        request_body: Some(optional::<ListRequest>()),
    }

    /// Get a document of a collection
    COLLECTIONS_DOCUMENTS_GET: GET "/v1/collections/{collection_identifier}/documents/{document_id}" => collections_documents_get -> DocumentView {}

    /// Get a document by id
    DOCUMENTS_GET: GET "/v1/documents/{document_id}" => documents_get -> DocumentView {}
}

async fn objects_documents(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<DocumentView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let object = objects::get(&ctx, &bucket, req.param("object_identifier")?).await?;
    Ok(documents::list_for_object(&ctx, &bucket, &object.object_id, &list).await?)
}

async fn collections_documents_list(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<DocumentView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    let ns = c.namespace()?;
    let id = req.param("collection_identifier")?;
    let collection = collections::get(&ctx, ns, id).await?;
    Ok(documents::list_for_collection(&ctx, &collection, &list).await?)
}

async fn collections_documents_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentView> {
    let ns = c.namespace()?;
    let collection = collections::get(&ctx, ns, req.param("collection_identifier")?).await?;
    let doc = documents::get(
        &ctx,
        ns,
        Some(&collection.collection_id),
        req.param("document_id")?,
    )
    .await?;
    Ok(doc)
}

async fn documents_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DocumentView> {
    let doc = documents::get(&ctx, c.namespace()?, None, req.param("document_id")?).await?;
    Ok(doc)
}
