//! GET /v1/collections/features/extractors
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice::api::routes::EXTRACTORS_LIST)
}
