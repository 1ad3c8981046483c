//! GET /v1/buckets/{bucket_identifier}/objects/{object_identifier}/documents (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::documents::OBJECTS_DOCUMENTS;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
