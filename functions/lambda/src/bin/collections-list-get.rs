//! GET /v1/collections (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::COLLECTIONS_LIST_GET)
}
