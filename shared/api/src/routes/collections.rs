//! Collections: one extractor's output over a namespace's buckets.

use super::prelude::*;

routes! {
    /// Create a collection: one extractor over chosen buckets
    COLLECTIONS_CREATE: POST "/v1/collections" => collections_create -> CollectionView {
        request_body: Some(required::<CreateCollection>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable],
    }

    /// List collections
    COLLECTIONS_LIST_GET: GET "/v1/collections" => collections_list_get -> Page<CollectionView> {}

    /// List collections, with filters
    COLLECTIONS_LIST: POST "/v1/collections/list" => collections_list -> Page<CollectionView> {
        request_body: Some(optional::<ListRequest>()),
    }

    /// Get a collection by id or name
    COLLECTIONS_GET: GET "/v1/collections/{collection_identifier}" => collections_get -> CollectionView {}

    /// Delete a collection and its documents
    COLLECTIONS_DELETE: DELETE "/v1/collections/{collection_identifier}" => collections_delete -> CollectionDeleted {
        permissions: &[ReadTable, WriteTable, DeleteVectors, DeleteVectorIndexes],
    }
}

async fn collections_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<CollectionView> {
    let body: collections::CreateCollection = req.json()?;
    let collection = collections::create(&ctx, c.namespace()?, body).await?;
    Ok(CollectionView::from(&collection))
}

async fn collections_list_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<CollectionView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(collections::list(&ctx, c.namespace()?, &list).await?)
}

async fn collections_list(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<CollectionView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    Ok(collections::list(&ctx, c.namespace()?, &list).await?)
}

async fn collections_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<CollectionView> {
    let collection =
        collections::get(&ctx, c.namespace()?, req.param("collection_identifier")?).await?;
    Ok(CollectionView::from(&collection))
}

async fn collections_delete(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<CollectionDeleted> {
    Ok(collections::delete(&ctx, c.namespace()?, req.param("collection_identifier")?).await?)
}
