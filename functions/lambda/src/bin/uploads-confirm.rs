//! POST /v1/buckets/{bucket_identifier}/uploads/{upload_id}/confirm (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::uploads::UPLOADS_CONFIRM;
    let clients = Clients::table().blobs().events();
    sluice_lambda::serve_route(route, clients)
}
