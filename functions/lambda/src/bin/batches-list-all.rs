//! POST /v1/batches/list
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::BATCHES_LIST_ALL)
}
