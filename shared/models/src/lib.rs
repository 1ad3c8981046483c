//! Embedding models that run in this process.

mod minilm;

pub use minilm::{embedders, minilm_embedder, MiniLm, MINILM_DIR, ONNXRUNTIME_LIB};
