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
