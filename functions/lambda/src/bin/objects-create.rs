//! POST /v1/buckets/{bucket_identifier}/objects (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::OBJECTS_CREATE)
}
