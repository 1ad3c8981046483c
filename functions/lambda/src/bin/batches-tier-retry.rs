//! POST /v1/buckets/{bucket_identifier}/batches/{batch_id}/tiers/{tier_num}/retry (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::batches::BATCHES_TIER_RETRY;
    let clients = Clients::table().queues();
    sluice_lambda::serve_route(route, clients)
}
