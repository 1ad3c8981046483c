//! POST /v1/organizations/webhooks (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::webhooks::WEBHOOKS_CREATE;
    let clients = Clients::table().sealer();
    sluice_lambda::serve_route(route, clients)
}
