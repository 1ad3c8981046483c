//! DELETE /v1/buckets/{bucket_identifier}/batches/{batch_id} (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::BATCHES_DELETE)
}
