//! PUT /v1/namespaces/{namespace_identifier} (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::NAMESPACES_UPDATE)
}
