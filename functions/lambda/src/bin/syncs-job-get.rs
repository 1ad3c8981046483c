//! GET /v1/buckets/{bucket_identifier}/syncs/{sync_config_id}/jobs/{sync_job_id} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::syncs::SYNCS_JOB_GET;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
