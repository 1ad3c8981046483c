//! DELETE /v1/organizations/connections/{connection_identifier} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::connections::CONNECTIONS_DELETE;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
