//! POST /v1/buckets/{bucket_identifier}/batches/{batch_id}/tiers/{tier_num}/heal (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::batches::BATCHES_TIER_HEAL;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
