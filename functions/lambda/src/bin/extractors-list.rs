//! GET /v1/collections/features/extractors
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::EXTRACTORS_LIST)
}
