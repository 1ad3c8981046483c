//! GET /v1/collections/features/extractors (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::EXTRACTORS_LIST)
}
