//! GET /v1/batches/{batch_id} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::batches::BATCHES_GET_BY_ID;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
