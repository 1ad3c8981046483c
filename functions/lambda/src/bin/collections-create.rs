//! POST /v1/collections
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::COLLECTIONS_CREATE)
}
