//! Namespaces: tenant isolation and the feature extractors their collections run.

use super::prelude::*;

routes! {
    /// Create a namespace
    NAMESPACES_CREATE: POST "/v1/namespaces" => namespaces_create -> NamespaceView {
        access: Access::Org,
        request_body: Some(required::<CreateNamespace>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable],
    }

    /// List namespaces
    NAMESPACES_LIST_GET: GET "/v1/namespaces" => namespaces_list_get -> Page<NamespaceView> {
        access: Access::Org,
    }

    /// List namespaces with filters
    NAMESPACES_LIST: POST "/v1/namespaces/list" => namespaces_list -> Page<NamespaceView> {
        access: Access::Org,
        request_body: Some(optional::<ListRequest>()),
    }

    /// Get a namespace by id or name
    NAMESPACES_GET: GET "/v1/namespaces/{namespace_identifier}" => namespaces_get -> NamespaceView {
        access: Access::Org,
    }

    /// Change some fields of a namespace
    NAMESPACES_PATCH: PATCH "/v1/namespaces/{namespace_identifier}" => namespaces_patch -> NamespaceView {
        access: Access::Org,
        request_body: Some(required::<UpdateNamespace>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// Replace a namespace's fields
    NAMESPACES_UPDATE: PUT "/v1/namespaces/{namespace_identifier}" => namespaces_update -> NamespaceView {
        access: Access::Org,
        request_body: Some(required::<UpdateNamespace>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// A namespace's counts, from counters kept as things change
    NAMESPACES_STATS: GET "/v1/namespaces/{namespace_identifier}/stats" => namespaces_stats -> NamespaceStats {
        access: Access::Org,
    }

    /// Counts of several namespaces
    NAMESPACES_STATS_BATCH: POST "/v1/namespaces/stats/batch" => namespaces_stats_batch -> NamespaceStatsBatch {
        access: Access::Org,
        request_body: Some(required::<StatsBatch>()),
    }

    /// Make the vector index of each collection that keeps vectors, where missing
    NAMESPACES_ENSURE_INDEXES: POST "/v1/namespaces/{namespace_identifier}/ensure-indexes" => namespaces_ensure_indexes -> IndexesEnsured {
        access: Access::Org,
        permissions: &[ReadTable, PutVectors],
    }

    /// The feature extractors a namespace runs
    NAMESPACES_EXTRACTORS: GET "/v1/namespaces/{namespace_id}/extractors" => namespaces_extractors -> NamespaceExtractors {
        access: Access::Org,
    }

    /// One feature extractor a namespace runs
    NAMESPACES_EXTRACTOR_GET: GET "/v1/namespaces/{namespace_id}/extractors/{extractor_id}" => namespaces_extractor_get -> ExtractorView {
        access: Access::Org,
    }

    /// Delete a namespace and everything in it
    NAMESPACES_DELETE: DELETE "/v1/namespaces/{namespace_identifier}" => namespaces_delete -> DeletionQueued {
        access: Access::Org,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Tasks)],
    }
}

async fn namespaces_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<NamespaceView> {
    let body: CreateNamespace = req.json()?;
    let ns = namespaces::create(&ctx, c.org()?, body).await?;
    Ok(NamespaceView::from(&ns))
}

async fn namespaces_list_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<NamespaceView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(namespaces::list(&ctx, c.org()?, &list).await?)
}

async fn namespaces_list(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<NamespaceView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    Ok(namespaces::list(&ctx, c.org()?, &list).await?)
}

async fn namespaces_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<NamespaceView> {
    let ns = namespaces::resolve(&ctx, c.org()?, req.param("namespace_identifier")?).await?;
    Ok(NamespaceView::from(&ns))
}

async fn namespaces_change(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
    replace: bool,
) -> Reply<NamespaceView> {
    let body: UpdateNamespace = req.json()?;
    let ns = namespaces::update(
        &ctx,
        c.org()?,
        req.param("namespace_identifier")?,
        body,
        replace,
    )
    .await?;
    Ok(NamespaceView::from(&ns))
}

async fn namespaces_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<NamespaceView> {
    namespaces_change(ctx, c, req, false).await
}

async fn namespaces_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<NamespaceView> {
    namespaces_change(ctx, c, req, true).await
}

async fn namespaces_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DeletionQueued> {
    Ok(namespaces::delete(&ctx, c.org()?, req.param("namespace_identifier")?).await?)
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct StatsBatch {
    /// Ids or names, at most 100.
    namespace_ids: Vec<String>,
}

async fn namespaces_stats(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<NamespaceStats> {
    let ns = namespaces::resolve(&ctx, c.org()?, req.param("namespace_identifier")?).await?;
    Ok(namespaces::stats(&ctx, &ns).await?)
}

async fn namespaces_stats_batch(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<NamespaceStatsBatch> {
    let body: StatsBatch = req.json()?;
    Ok(namespaces::stats_batch(&ctx, c.org()?, &body.namespace_ids).await?)
}

async fn namespaces_ensure_indexes(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<IndexesEnsured> {
    let ns = namespaces::resolve(&ctx, c.org()?, req.param("namespace_identifier")?).await?;
    let force = objects::flag(&req.query, "force_rebuild")?;
    Ok(namespaces::ensure_indexes(&ctx, &ns, force).await?)
}

async fn namespaces_extractors(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<NamespaceExtractors> {
    let ns = namespaces::resolve(&ctx, c.org()?, req.param("namespace_id")?).await?;
    let mut list = namespaces::extractors_of(&ns);
    if let Some(source) = req.query.get("source") {
        list.extractors.retain(|e| &e.source == source);
        list.total = list.extractors.len();
        list.builtin_count = list
            .extractors
            .iter()
            .filter(|e| e.source == "builtin")
            .count();
    }
    Ok(list)
}

async fn namespaces_extractor_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<ExtractorView> {
    let ns = namespaces::resolve(&ctx, c.org()?, req.param("namespace_id")?).await?;
    let id = req.param("extractor_id")?;
    namespaces::extractors_of(&ns)
        .extractors
        .into_iter()
        .find(|e| e.feature_extractor_id == id)
        .ok_or_else(|| ApiError::not_found(format!("feature extractor {id:?} in this namespace")))
}
