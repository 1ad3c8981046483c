//! The OpenAPI 3.1 document, generated from the route table (by `cargo xtask routes`,
//! into `shared/api/openapi.json`, which the server serves): the request types that
//! parse request bodies, the views handlers must return, and the error envelope every
//! failure is serialized from (so the document cannot drift from the code).

use serde_json::{json, Map, Value};

use super::route::Access;
use super::routes::ROUTES;
use crate::error::ErrorEnvelope;

pub fn document() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut generator = settings.into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES.iter() {
        let mut parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if matches!(
            route.access,
            Access::Namespace | Access::OrgOptionalNamespace
        ) {
            parameters.push(json!({
                "name": "X-Namespace", "in": "header",
                "required": route.access == Access::Namespace,
                "description": "Namespace id or name", "schema": {"type": "string"}
            }));
        }
        let success = (route.response)(&mut generator);
        let ok = if route.status == 202 {
            "Accepted"
        } else {
            "Success"
        };
        let mut op = json!({
            "operationId": route.function(),
            "summary": route.summary,
            "parameters": parameters,
            "responses": {
                route.status.to_string(): {"description": ok, "content": {"application/json": {"schema": success}}},
                "4XX": {"description": "Client error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "5XX": {"description": "Server error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if let Some(body) = route.request_body {
            let schema = (body.schema)(&mut generator);
            op["requestBody"] = json!({"required": body.required, "content": {"application/json": {"schema": schema}}});
        }
        if route.access == Access::Public {
            op["security"] = json!([]);
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = op;
    }
    let error = generator.subschema_for::<ErrorEnvelope>();
    let mut schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    // Routes refer to the envelope as `Error`, whatever name the generator gave it.
    schemas.insert("Error".into(), error.to_value());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Sluice",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Self-hosted ingestion API compatible with Mixpeek's: namespaces, buckets, objects."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "sk_... API key"}},
            "schemas": schemas
        },
        "paths": paths
    })
}
