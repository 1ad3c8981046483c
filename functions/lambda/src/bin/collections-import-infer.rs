//! POST /v1/collections/import/infer (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::collections::COLLECTIONS_IMPORT_INFER;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
