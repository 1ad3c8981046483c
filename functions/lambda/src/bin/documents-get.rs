//! GET /v1/documents/{document_id}
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::DOCUMENTS_GET)
}
