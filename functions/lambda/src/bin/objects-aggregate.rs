//! POST /v1/buckets/{bucket_identifier}/objects/aggregate (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::objects::OBJECTS_AGGREGATE;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
