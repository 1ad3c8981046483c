//! PUT /v1/organizations/webhooks/{identifier} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::webhooks::WEBHOOKS_UPDATE;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
