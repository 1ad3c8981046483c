//! POST /v1/buckets/{bucket_identifier}/uploads/confirm/batch (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::UPLOADS_CONFIRM_BATCH)
}
