//! POST /v1/buckets/{bucket_identifier}/uploads/confirm/batch (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::uploads::UPLOADS_CONFIRM_BATCH;
    let clients = Clients::table().queues();
    sluice_lambda::serve_route(route, clients)
}
