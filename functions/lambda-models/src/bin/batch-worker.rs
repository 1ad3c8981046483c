//! SQS: chunks of submitted batches, through the namespace's feature extractors.
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::work_queue_with(
        sluice_core::ports::QueueName::Batches,
        sluice_lambda_models::with_models,
    )
}
