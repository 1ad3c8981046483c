//! DELETE /v1/buckets/{bucket_identifier}/batches/{batch_id}/documents (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::batches::BATCHES_DELETE_DOCUMENTS;
    let clients = Clients::table().blobs().vectors();
    sluice_lambda::serve_route(route, clients)
}
