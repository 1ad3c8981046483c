//! POST /v1/buckets/{bucket_identifier}/batches/{batch_id}/estimate-cost (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::batches::BATCHES_ESTIMATE;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
