//! Webhooks: an org's endpoints and their deliveries.

use super::prelude::*;

routes! {
    /// Subscribe an endpoint to events (the signing secret is shown once)
    WEBHOOKS_CREATE: POST "/v1/organizations/webhooks" => webhooks_create -> WebhookView {
        access: Access::Org,
        request_body: Some(required::<CreateWebhook>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable, SealSecrets],
    }

    /// List webhooks
    WEBHOOKS_LIST: POST "/v1/organizations/webhooks/list" => webhooks_list -> WebhookList {
        access: Access::Org,
        request_body: Some(optional::<ListWebhooks>()),
    }

    /// Get a webhook
    WEBHOOKS_GET: GET "/v1/organizations/webhooks/{identifier}" => webhooks_get -> WebhookView {
        access: Access::Org,
    }

    /// Update a webhook
    WEBHOOKS_UPDATE: PUT "/v1/organizations/webhooks/{identifier}" => webhooks_update -> WebhookView {
        access: Access::Org,
        request_body: Some(required::<UpdateWebhook>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// Delete a webhook
    WEBHOOKS_DELETE: DELETE "/v1/organizations/webhooks/{identifier}" => webhooks_delete -> Done {
        access: Access::Org,
        permissions: &[ReadTable, WriteTable],
    }

    /// A webhook's delivery log, newest first
    WEBHOOKS_DELIVERIES: GET "/v1/organizations/webhooks/{identifier}/deliveries" => webhooks_deliveries -> Page<DeliveryView> {
        access: Access::Org,
    }
}

fn webhook_id(req: &ApiRequest) -> Result<&str, ApiError> {
    req.param("identifier")
}

async fn webhooks_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<WebhookView> {
    let body: CreateWebhook = req.json()?;
    Ok(webhooks::create(&ctx, c.org()?, body).await?)
}

async fn webhooks_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<WebhookList> {
    let body: ListWebhooks = req.json_or_default()?;
    Ok(webhooks::list(&ctx, c.org()?, &body).await?)
}

async fn webhooks_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<WebhookView> {
    let wh = webhooks::get(&ctx, c.org()?, webhook_id(&req)?).await?;
    Ok(WebhookView::new(&wh, None))
}

async fn webhooks_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<WebhookView> {
    let body: UpdateWebhook = req.json()?;
    Ok(webhooks::update(&ctx, c.org()?, webhook_id(&req)?, body).await?)
}

async fn webhooks_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    webhooks::delete(&ctx, c.org()?, webhook_id(&req)?).await?;
    Ok(Done::new("Successfully deleted"))
}

async fn webhooks_deliveries(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<DeliveryView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(webhooks::deliveries(&ctx, c.org()?, webhook_id(&req)?, &list).await?)
}
