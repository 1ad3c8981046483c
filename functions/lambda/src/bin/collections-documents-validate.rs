//! POST /v1/collections/{collection_identifier}/documents/schema/validate (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::documents::COLLECTIONS_DOCUMENTS_VALIDATE;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
