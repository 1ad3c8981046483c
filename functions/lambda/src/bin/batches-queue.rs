//! GET /v1/batches/queue (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::batches::BATCHES_QUEUE;
    let clients = Clients::table();
    sluice_lambda::serve_route(route, clients)
}
