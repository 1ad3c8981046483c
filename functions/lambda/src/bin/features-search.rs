//! POST /v1/features/search
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route_with_models(&sluice::api::routes::FEATURES_SEARCH)
}
