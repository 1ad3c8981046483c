//! GET /v1/buckets/{bucket_identifier}/uploads/{upload_id} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::uploads::UPLOADS_GET;
    let clients = Clients::table().blobs();
    sluice_lambda::serve_route(route, clients)
}
