//! GET /v1/collections/{collection_identifier} (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::COLLECTIONS_GET)
}
