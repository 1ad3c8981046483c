//! POST /v1/collections/{collection_identifier}/export (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::collections::COLLECTIONS_EXPORT;
    let clients = Clients::table().blobs();
    sluice_lambda::serve_route(route, clients)
}
