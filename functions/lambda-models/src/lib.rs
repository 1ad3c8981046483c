//! What the embedding Lambdas add to the AWS context: MiniLM from the models layer and
//! Bedrock (both loaded on first use), and the extractors.

use sluice_core::AppContext;

pub fn with_models(ctx: AppContext) -> AppContext {
    let embedders = sluice_models::embedders(ctx.config.models_dir.clone());
    let embedders = sluice_bedrock::with_bedrock(embedders);
    ctx.with_embedders(embedders)
        .with_extractors(sluice_extract::Extractors::shared())
}
