//! GET /v1/namespaces/{namespace_identifier}/stats (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::namespaces::NAMESPACES_STATS;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
