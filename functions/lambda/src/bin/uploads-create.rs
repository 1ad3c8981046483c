//! POST /v1/buckets/{bucket_identifier}/uploads (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::uploads::UPLOADS_CREATE;
    let clients = Clients::table().blobs();
    sluice_lambda::serve_route(route, clients)
}
