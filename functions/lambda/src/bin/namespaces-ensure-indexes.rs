//! POST /v1/namespaces/{namespace_identifier}/ensure-indexes (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::namespaces::NAMESPACES_ENSURE_INDEXES;
    let clients = Clients::table().vectors();
    sluice_lambda::serve_route(route, clients)
}
