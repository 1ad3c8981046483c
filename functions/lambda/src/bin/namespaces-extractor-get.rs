//! GET /v1/namespaces/{namespace_id}/extractors/{extractor_id} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::namespaces::NAMESPACES_EXTRACTOR_GET;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
