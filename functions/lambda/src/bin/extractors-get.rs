//! GET /v1/collections/features/extractors/{feature_extractor_id} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let clients = Clients::table();
    sluice_lambda::serve_route(&sluice_api::routes::EXTRACTORS_GET, clients)
}
