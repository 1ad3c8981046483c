//! Scheduled: fails expired uploads and stalled batches; purges soft deletes past their window.
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::sweep()
}
