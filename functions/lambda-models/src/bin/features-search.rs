//! POST /v1/features/search (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::search::FEATURES_SEARCH;
    let clients = Clients::table().vectors();
    sluice_lambda::serve_route_with(route, clients, sluice_lambda_models::with_models)
}
