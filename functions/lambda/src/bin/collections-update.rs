//! PATCH /v1/collections/{collection_identifier} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::collections::COLLECTIONS_UPDATE;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
