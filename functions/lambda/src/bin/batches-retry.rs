//! POST /v1/buckets/{bucket_identifier}/batches/{batch_id}/retry
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::BATCHES_RETRY)
}
