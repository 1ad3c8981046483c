//! GET /v1/buckets/{bucket_identifier}/batches/{batch_id}/diagnose (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::batches::BATCHES_DIAGNOSE;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
