//! Works the tasks queue (namespace and bucket purges).
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::work_queue(sluice_core::ports::QueueName::Tasks)
}
