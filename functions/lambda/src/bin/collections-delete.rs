//! DELETE /v1/collections/{collection_identifier} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let clients = Clients::table().vectors();
    sluice_lambda::serve_route(&sluice_api::routes::COLLECTIONS_DELETE, clients)
}
