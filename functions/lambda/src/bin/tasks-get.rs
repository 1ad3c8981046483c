//! GET /v1/tasks/{task_id}
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::TASKS_GET)
}
