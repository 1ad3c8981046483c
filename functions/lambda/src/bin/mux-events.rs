//! POST /v1/webhooks/mux/{connection_id} (written by `cargo xtask routes`)
use sluice_lambda::Clients;

fn main() -> Result<(), sluice_lambda::Error> {
    let route = &sluice_api::routes::syncs::MUX_EVENTS;
    let clients = Clients::table()
        .queues()
        .credentials(sluice_lambda::connectors);
    sluice_lambda::serve_route(route, clients)
}
