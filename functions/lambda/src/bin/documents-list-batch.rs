//! POST /v1/documents/list/batch (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::documents::DOCUMENTS_LIST_BATCH;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
