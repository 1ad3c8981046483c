//! DELETE /v1/namespaces/{namespace_identifier} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::namespaces::NAMESPACES_DELETE;
    let clients = Clients::table().queues();
    sluice_lambda::serve_route(route, clients)
}
