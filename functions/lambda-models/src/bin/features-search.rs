//! POST /v1/features/search (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route_with(
        &sluice_api::routes::FEATURES_SEARCH,
        sluice_lambda_models::with_models,
    )
}
