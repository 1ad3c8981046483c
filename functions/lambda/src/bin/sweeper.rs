//! Scheduled: fails expired pending uploads (removing their bytes) and stalled batches.
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::sweep()
}
