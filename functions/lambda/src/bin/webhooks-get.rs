//! GET /v1/organizations/webhooks/{identifier}
fn main() -> Result<(), sluice_lambda::Error> {
    sluice_lambda::serve_route(&sluice::api::routes::WEBHOOKS_GET)
}
