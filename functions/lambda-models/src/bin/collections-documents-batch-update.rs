//! POST /v1/collections/{collection_identifier}/documents/batch (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::documents::COLLECTIONS_DOCUMENTS_BATCH_UPDATE;
    let clients = Clients::table().events().vectors();
    sluice_lambda::serve_route_with(route, clients, sluice_lambda_models::with_models)
}
