//! POST /v1/batches/list (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::batches::BATCHES_LIST_ALL;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
