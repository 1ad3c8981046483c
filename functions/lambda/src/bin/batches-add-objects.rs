//! POST /v1/buckets/{bucket_identifier}/batches/{batch_id}/objects (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let clients = Clients::table();
    sluice_lambda::serve_route(&sluice_api::routes::BATCHES_ADD_OBJECTS, clients)
}
