//! POST /v1/buckets/{bucket_identifier}/batches (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let clients = Clients::table().queues();
    sluice_lambda::serve_route(&sluice_api::routes::BATCHES_CREATE, clients)
}
