//! Scheduled (every minute): starts the syncs that are due and resumes lapsed runs.
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::poll_syncs()
}
