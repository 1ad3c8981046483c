//! GET /v1/organizations/connections/{connection_identifier}/files (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::connections::CONNECTIONS_DRIVE_FILES;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
