//! POST /v1/buckets/{bucket_identifier}/batches/{batch_id}/submit
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::BATCHES_SUBMIT)
}
