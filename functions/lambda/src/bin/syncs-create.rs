//! POST /v1/buckets/{bucket_identifier}/syncs (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let clients = Clients::table().credentials(sluice_lambda::connectors);
    sluice_lambda::serve_route(&sluice_api::routes::SYNCS_CREATE, clients)
}
