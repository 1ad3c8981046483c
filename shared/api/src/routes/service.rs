//! The service's own routes: its OpenAPI document and the feature-extractor catalogue.

use super::prelude::*;

routes! {
    /// The OpenAPI 3.1 document of this API
    OPENAPI: GET "/openapi.json" => openapi -> Value {
        access: Access::Public,
        permissions: &[],
    }

    /// List the feature-extractor catalogue (public, as Mixpeek's is)
    EXTRACTORS_LIST: GET "/v1/collections/features/extractors" => extractors_list -> Vec<ExtractorView> {
        access: Access::Public,
        permissions: &[],
    }

    /// The features each file type can be searched by, and which extractors make them
    FEATURES_DISCOVER: GET "/v1/collections/features" => features_discover -> FeatureDiscovery {
        access: Access::Public,
        permissions: &[],
    }

    /// Get one feature extractor
    EXTRACTORS_GET: GET "/v1/collections/features/extractors/{feature_extractor_id}" => extractors_get -> ExtractorView {
        access: Access::Public,
        permissions: &[],
    }
}

async fn openapi(_ctx: AppContext, _c: Caller, _req: ApiRequest) -> Reply<Value> {
    Ok(crate::document::served().clone())
}

async fn extractors_list(
    _ctx: AppContext,
    _c: Caller,
    _req: ApiRequest,
) -> Reply<Vec<ExtractorView>> {
    Ok(extractors::CATALOGUE
        .iter()
        .map(ExtractorView::from)
        .collect())
}

async fn extractors_get(_ctx: AppContext, _c: Caller, req: ApiRequest) -> Reply<ExtractorView> {
    let id = req.param("feature_extractor_id")?;
    let spec = extractors::find_by_id(id)
        .ok_or_else(|| ApiError::not_found(format!("feature extractor {id:?}")))?;
    Ok(ExtractorView::from(spec))
}

async fn features_discover(
    _ctx: AppContext,
    _c: Caller,
    _req: ApiRequest,
) -> Reply<FeatureDiscovery> {
    Ok(FeatureDiscovery::of(extractors::CATALOGUE))
}
