//! GET /v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/metrics (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let clients = Clients::table();
    sluice_lambda::serve_route(&sluice_api::routes::SYNCS_METRICS, clients)
}
