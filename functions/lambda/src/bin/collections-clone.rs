//! POST /v1/collections/{collection_identifier}/clone (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::collections::COLLECTIONS_CLONE;
    let clients = Clients::table().queues();
    sluice_lambda::serve_route(route, clients)
}
