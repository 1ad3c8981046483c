//! PATCH /v1/organizations/connections/{connection_identifier} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::connections::CONNECTIONS_UPDATE;
    let clients = Clients::table().credentials(sluice_lambda::connectors);
    sluice_lambda::serve_route(route, clients)
}
