//! S3 Object Created (EventBridge) → confirms the upload the bytes belong to.
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::confirm_stored_uploads()
}
