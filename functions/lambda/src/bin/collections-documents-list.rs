//! POST /v1/collections/{collection_identifier}/documents/list (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let clients = Clients::table();
    sluice_lambda::serve_route(&sluice_api::routes::COLLECTIONS_DOCUMENTS_LIST, clients)
}
