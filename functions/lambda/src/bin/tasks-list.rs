//! POST /v1/tasks/list
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::TASKS_LIST)
}
