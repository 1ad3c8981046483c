//! POST /v1/collections/{collection_identifier}/import (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::collections::COLLECTIONS_IMPORT;
    let clients = Clients::table().events().vectors();
    sluice_lambda::serve_route_with(route, clients, sluice_lambda_models::with_models)
}
