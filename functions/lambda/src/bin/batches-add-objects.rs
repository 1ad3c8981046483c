//! POST /v1/buckets/{bucket_identifier}/batches/{batch_id}/objects
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::BATCHES_ADD_OBJECTS)
}
