//! Scheduled: fails expired pending uploads and removes their bytes.
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::sweep_uploads()
}
