//! SQS: chunks of submitted batches, through the namespace's feature extractors.
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::work_queue_with_models(sluice::ports::QueueName::Batches)
}
