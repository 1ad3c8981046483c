//! DELETE /v1/collections/{collection_identifier}
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice::api::routes::COLLECTIONS_DELETE)
}
