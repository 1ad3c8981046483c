//! SQS: events from the bus (fanned out to subscribed webhooks) and delivery retries.
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::work_queue(sluice_core::ports::QueueName::Webhooks)
}
