//! POST /v1/buckets/{bucket_identifier}/objects/bulk-soft-delete (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::objects::OBJECTS_SOFT_DELETE;
    let clients = Clients::table().vectors();
    sluice_lambda::serve_route(route, clients)
}
