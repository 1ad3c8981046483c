//! Works the tasks queue (purges, bulk upload confirms, clones' document copies).
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::work_queue(sluice_core::ports::QueueName::Tasks)
}
