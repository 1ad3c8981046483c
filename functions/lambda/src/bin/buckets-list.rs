//! POST /v1/buckets/list
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::BUCKETS_LIST)
}
