//! Storage connections: a provider's settings and sealed credentials.

use super::prelude::*;
use super::shared::*;

routes! {
    /// Create a storage connection (tested before it is saved)
    CONNECTIONS_CREATE: POST "/v1/organizations/connections" => connections_create -> ConnectionView {
        access: Access::Org,
        request_body: Some(required::<CreateConnection>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable, UseCredentials],
    }

    /// List storage connections
    CONNECTIONS_LIST: POST "/v1/organizations/connections/list" => connections_list -> ListOf<ConnectionView> {
        access: Access::Org,
        request_body: Some(optional::<ListConnections>()),
    }

    /// Get a storage connection (credentials by type only)
    CONNECTIONS_GET: GET "/v1/organizations/connections/{connection_identifier}" => connections_get -> ConnectionView {
        access: Access::Org,
    }

    /// Change a storage connection (omitted credential fields are kept)
    CONNECTIONS_UPDATE: PATCH "/v1/organizations/connections/{connection_identifier}" => connections_update -> ConnectionView {
        access: Access::Org,
        request_body: Some(required::<UpdateConnection>()),
        permissions: &[ReadTable, WriteTable, UseCredentials],
    }

    /// Delete a storage connection no sync uses
    CONNECTIONS_DELETE: DELETE "/v1/organizations/connections/{connection_identifier}" => connections_delete -> Done {
        access: Access::Org,
        permissions: &[ReadTable, WriteTable],
    }

    /// Test a storage connection's credentials
    CONNECTIONS_TEST: POST "/v1/organizations/connections/{connection_identifier}/test" => connections_test -> ConnectionTested {
        access: Access::Org,
        // It records the use (last_used_at, last_error) on the connection.
        permissions: &[ReadTable, WriteTable, UseCredentials],
    }

    /// Browse a Google Drive connection's files (Sluice has no Google Drive provider)
    CONNECTIONS_DRIVE_FILES: GET "/v1/organizations/connections/{connection_identifier}/files" => connections_drive_files -> Unreachable {
        access: Access::Org,
    }

    /// Browse a Google Drive connection's folders (Sluice has no Google Drive provider)
    CONNECTIONS_DRIVE_FOLDERS: GET "/v1/organizations/connections/{connection_identifier}/folders" => connections_drive_folders -> Unreachable {
        access: Access::Org,
    }
}

fn connection_id(req: &ApiRequest) -> Result<&str, ApiError> {
    req.param("connection_identifier")
}

async fn connections_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ConnectionView> {
    let body: connections::CreateConnection = req.json()?;
    let made = connections::create(&ctx, c.org()?, &creator(&c), body).await?;
    Ok(ConnectionView::from(&made))
}

async fn connections_list(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<ListOf<ConnectionView>> {
    let body: connections::ListConnections = req.json_or_default()?;
    let all = connections::list(&ctx, c.org()?, &body).await?;
    Ok(ListOf::new(all.iter().map(ConnectionView::from).collect()))
}

async fn connections_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ConnectionView> {
    let found = connections::get(&ctx, c.org()?, connection_id(&req)?).await?;
    Ok(ConnectionView::from(&found))
}

async fn connections_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ConnectionView> {
    let body: connections::UpdateConnection = req.json()?;
    let changed = connections::update(&ctx, c.org()?, connection_id(&req)?, body).await?;
    Ok(ConnectionView::from(&changed))
}

async fn connections_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    let gone = connections::delete(&ctx, c.org()?, connection_id(&req)?).await?;
    Ok(Done::new(format!(
        "connection {} deleted",
        gone.connection_id
    )))
}

async fn connections_test(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ConnectionTested> {
    let t = connections::test(&ctx, c.org()?, connection_id(&req)?).await?;
    Ok(ConnectionTested {
        success: t.success,
        message: t.message,
    })
}

/// Files and folders are browsed on Google Drive connections only, which Sluice cannot
/// make yet: the answer names the connection's provider.
async fn drive_browse(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Unreachable> {
    let found = connections::get(&ctx, c.org()?, connection_id(&req)?).await?;
    Err(ApiError::field(
        "connection_identifier",
        format!(
            "connection {} is a {} connection; files and folders are browsed on google_drive connections, which Sluice does not offer yet",
            found.connection_id,
            found.provider_type
        ),
    ))
}

async fn connections_drive_files(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Unreachable> {
    drive_browse(ctx, c, req).await
}

async fn connections_drive_folders(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Unreachable> {
    drive_browse(ctx, c, req).await
}
