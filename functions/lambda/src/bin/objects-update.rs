//! PUT /v1/buckets/{bucket_identifier}/objects/{object_identifier} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::objects::OBJECTS_UPDATE;
    let clients = Clients::table().blobs().events();
    sluice_lambda::serve_route(route, clients)
}
