//! POST /v1/buckets/{bucket_identifier}/objects/batch (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::objects::OBJECTS_CREATE_BATCH;
    let clients = Clients::table().blobs().queues().events();
    sluice_lambda::serve_route(route, clients)
}
