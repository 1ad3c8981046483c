//! GET /v1/collections/features (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::service::FEATURES_DISCOVER;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
