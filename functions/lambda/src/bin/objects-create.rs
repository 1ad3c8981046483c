//! POST /v1/buckets/{bucket_identifier}/objects (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::objects::OBJECTS_CREATE;
    let clients = Clients::table().blobs().queues().events();
    sluice_lambda::serve_route(route, clients)
}
