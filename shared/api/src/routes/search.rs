//! Feature search over collections' vectors.

use super::prelude::*;
use super::shared::key_id;

routes! {
    /// Search a namespace's collections by embedding (text or vector query, metadata filters)
    FEATURES_SEARCH: POST "/v1/features/search" => features_search -> SearchView {
        request_body: Some(required::<FeatureSearch>()),
        embeds: true,
        permissions: &[ReadTable, QueryVectors, GetVectors, InvokeBedrock],
    }
}

async fn features_search(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SearchView> {
    let body: search::FeatureSearch = req.json()?;
    Ok(search::features_search(&ctx, c.namespace()?, &body, key_id(&c)).await?)
}
