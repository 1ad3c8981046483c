//! POST /v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/dlq/bulk-mark-failed (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::syncs::SYNCS_DLQ_MARK_FAILED;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
