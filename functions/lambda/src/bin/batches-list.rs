//! POST /v1/buckets/{bucket_identifier}/batches/list
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice::api::routes::BATCHES_LIST)
}
