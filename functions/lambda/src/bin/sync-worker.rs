//! Works the syncs queue: one page of a sync run per message.
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::work_queue(sluice_core::ports::QueueName::Syncs)
}
