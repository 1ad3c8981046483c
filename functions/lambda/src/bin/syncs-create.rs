//! POST /v1/buckets/{bucket_identifier}/syncs (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::syncs::SYNCS_CREATE;
    let clients = Clients::table().credentials(sluice_lambda::connectors);
    sluice_lambda::serve_route(route, clients)
}
