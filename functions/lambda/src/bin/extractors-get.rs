//! GET /v1/collections/features/extractors/{feature_extractor_id} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::service::EXTRACTORS_GET;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
