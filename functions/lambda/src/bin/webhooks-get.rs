//! GET /v1/organizations/webhooks/{identifier} (written by `cargo xtask routes`)
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice_api::routes::WEBHOOKS_GET)
}
