//! POST /v1/namespaces
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::NAMESPACES_CREATE)
}
