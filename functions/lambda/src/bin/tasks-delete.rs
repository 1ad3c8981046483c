//! DELETE /v1/tasks/{task_id} (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::TASKS_DELETE)
}
