//! POST /v1/organizations/webhooks (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let clients = Clients::table().sealer();
    sluice_lambda::serve_route(&sluice_api::routes::WEBHOOKS_CREATE, clients)
}
