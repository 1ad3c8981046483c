//! GET /v1/buckets/{bucket_identifier}/uploads/{upload_id} (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::UPLOADS_GET)
}
