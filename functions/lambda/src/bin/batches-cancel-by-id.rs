//! POST /v1/batches/{batch_id}/cancel (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let clients = Clients::table();
    sluice_lambda::serve_route(&sluice_api::routes::BATCHES_CANCEL_BY_ID, clients)
}
