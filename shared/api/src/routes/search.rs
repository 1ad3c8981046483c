//! Feature search over collections' vectors.

use super::prelude::*;

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
    let reader = c.principal.as_ref().map(|p| p.key_id.as_str());
    Ok(search::features_search(&ctx, c.namespace()?, &body, reader).await?)
}
