//! Collections: one extractor's output over a namespace's buckets.

use super::prelude::*;
use super::shared::*;

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

    /// Rename, describe, enable or disable a collection
    COLLECTIONS_UPDATE: PATCH "/v1/collections/{collection_identifier}" => collections_update -> CollectionView {
        request_body: Some(required::<collections::UpdateCollection>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// The features a collection makes searchable
    COLLECTIONS_FEATURES: GET "/v1/collections/{collection_identifier}/features" => collections_features -> collections::CollectionFeatures {}

    /// A new collection with this one's configuration (empty, or with a copy of its documents and vectors when `?copy_documents=true`)
    COLLECTIONS_CLONE: POST "/v1/collections/{collection_identifier}/clone" => collections_clone -> CollectionCloned {
        request_body: Some(required::<collections::CloneCollection>()),
        permissions: &[ReadTable, WriteTable, Send(QueueName::Tasks)],
    }

    /// Write a collection's documents as JSON Lines shards to the blob store
    COLLECTIONS_EXPORT: POST "/v1/collections/{collection_identifier}/export" => collections_export -> collections::Exported {
        request_body: Some(optional::<collections::Export>()),
        permissions: &[ReadTable, PutBlobs, GetBlobs],
    }

    /// Import rows (objects, JSON Lines or CSV) as documents by a mapping, or check them
    COLLECTIONS_IMPORT: POST "/v1/collections/{collection_identifier}/import" => collections_import -> collections::Imported {
        request_body: Some(required::<collections::Import>()),
        embeds: true,
        permissions: &[ReadTable, WriteTable, PutVectors, InvokeBedrock, PublishEvents],
    }

    /// Infer the fields of sample rows and where each would go
    COLLECTIONS_IMPORT_INFER: POST "/v1/collections/import/infer" => collections_import_infer -> collections::InferredSchema {
        request_body: Some(required::<collections::InferSchema>()),
    }

    /// Check an import mapping before importing
    COLLECTIONS_IMPORT_VALIDATE: POST "/v1/collections/import/validate-mapping" => collections_import_validate -> collections::MappingCheck {
        request_body: Some(required::<collections::ValidateMapping>()),
    }

    /// Source objects without documents here, and documents without their object
    COLLECTIONS_RECONCILE: GET "/v1/collections/{collection_identifier}/reconciliation" => collections_reconcile -> collections::Reconciliation {}

    /// Process the collection's source objects into it (batches, submitted)
    COLLECTIONS_TRIGGER: POST "/v1/collections/{collection_identifier}/trigger" => collections_trigger -> CollectionTriggered {
        request_body: Some(optional::<batches::TriggerCollection>()),
        status: 202,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }

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

async fn collections_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<CollectionView> {
    let body: collections::UpdateCollection = req.json()?;
    let id = req.param("collection_identifier")?;
    let changed = collections::update(&ctx, c.namespace()?, id, body).await?;
    Ok(CollectionView::from(&changed))
}

async fn collections_features(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<collections::CollectionFeatures> {
    Ok(collections::features(&collection_of(&ctx, &c, &req).await?))
}

async fn collections_clone(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<CollectionCloned> {
    let body: collections::CloneCollection = req.json()?;
    let id = req.param("collection_identifier")?;
    let copy = objects::flag(&req.query, "copy_documents")?;
    let cloned = collections::clone(&ctx, c.namespace()?, id, body, copy).await?;
    Ok(CollectionCloned {
        collection: CollectionView::from(&cloned.made),
        source_collection_id: cloned.from.collection_id,
        task_id: cloned.copying.map(|t| t.task_id),
    })
}

async fn collections_export(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<collections::Exported> {
    let body: collections::Export = req.json_or_default()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    Ok(collections::export(&ctx, &collection, body, key_id(&c)).await?)
}

async fn collections_import(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<collections::Imported> {
    let body: collections::Import = req.json()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    Ok(collections::import(&ctx, &writer(&c)?, &collection, body).await?)
}

async fn collections_import_infer(
    _ctx: AppContext,
    _c: Caller,
    req: ApiRequest,
) -> Reply<collections::InferredSchema> {
    Ok(collections::infer_schema(req.json()?)?)
}

async fn collections_import_validate(
    _ctx: AppContext,
    _c: Caller,
    req: ApiRequest,
) -> Reply<collections::MappingCheck> {
    Ok(collections::validate_mapping(req.json()?))
}

async fn collections_reconcile(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<collections::Reconciliation> {
    let limit = match req.query.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Err(ApiError::field("limit", "must be an integer")),
    };
    let collection = collection_of(&ctx, &c, &req).await?;
    Ok(collections::reconcile(&ctx, c.namespace()?, &collection, limit).await?)
}

async fn collections_trigger(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<CollectionTriggered> {
    let body: batches::TriggerCollection = req.json_or_default()?;
    let ns = c.namespace()?;
    let collection = collection_of(&ctx, &c, &req).await?;
    let mut sources = Vec::new();
    for b in buckets::all(&ctx, ns).await? {
        let wanted = body
            .include_buckets
            .as_ref()
            .is_none_or(|i| i.contains(&b.bucket_id) || i.contains(&b.bucket_name));
        let feeds = collection
            .source_bucket_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&b.bucket_id));
        if wanted && feeds {
            sources.push(b);
        }
    }
    let source_bucket_ids = sources.iter().map(|b| b.bucket_id.clone()).collect();
    let runs = batches::trigger(&ctx, ns, &collection, sources, body).await?;
    let batches: Vec<SubmittedBatch> = runs.into_iter().flat_map(|r| r.batches).collect();
    let task_ids: Vec<String> = batches.iter().filter_map(|b| b.task_id.clone()).collect();
    Ok(CollectionTriggered {
        collection_id: collection.collection_id,
        batch_id: batches.first().map(|b| b.batch_id.clone()),
        task_id: task_ids.first().cloned().unwrap_or_default(),
        source_bucket_ids,
        object_count: batches.iter().map(|b| b.object_count).sum(),
        batch_ids: batches.iter().map(|b| b.batch_id.clone()).collect(),
        batch_count: batches.len(),
        total_tiers: 1,
        message: format!("{} batches submitted", task_ids.len()),
        task_ids,
        batches,
    })
}
