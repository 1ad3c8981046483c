//! P4: sentences embedded per second by Sluice's MiniLM (ONNX Runtime, CPU) — compared by
//! `bench/run` with sentence-transformers on PyTorch CPU over the same sentences file —
//! and the cold-start cost of loading the model.
//!
//! Usage: p4_embeddings SENTENCES_OUT [COUNT]

use std::time::Instant;

use sluice_models::{MiniLm, MINILM_DIR, ONNXRUNTIME_LIB};

const WORDS: &[&str] = &[
    "the", "quick", "river", "carries", "boats", "past", "old", "mills", "while", "engineers",
    "measure", "water", "levels", "every", "morning", "before", "markets", "open", "and", "traders",
    "argue", "about", "prices", "of", "grain", "copper", "coffee", "shipping", "routes", "storms",
    "delay", "trains", "children", "learn", "physics", "music", "history", "doctors", "treat",
    "patients", "with", "new", "medicine", "satellites", "orbit", "planet", "cameras", "record",
    "birds", "migrating", "south", "in", "autumn", "forests", "burn", "after", "dry", "summers",
];

/// Deterministic sentences of 4 to 60 words, spread like real text lengths.
fn sentences(count: usize) -> Vec<String> {
    let mut state: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let len = 4 + (next() % 57) as usize;
            let mut s: Vec<&str> = (0..len).map(|_| WORDS[(next() as usize) % WORDS.len()]).collect();
            s[0] = "The";
            s.join(" ") + "."
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).expect("usage: p4_embeddings SENTENCES_OUT [COUNT]");
    let count: usize = args.get(2).map(|c| c.parse()).transpose()?.unwrap_or(1000);
    let texts = sentences(count);
    std::fs::write(out, texts.join("\n") + "\n")?;
    let models = sluice_core::Config::from_env()?.models_dir;

    let t = Instant::now();
    let model = MiniLm::load(&models.join(MINILM_DIR), &models.join(ONNXRUNTIME_LIB))?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    model.embed_blocking(&texts[..1])?;
    let first_ms = t.elapsed().as_secs_f64() * 1e3;

    model.embed_blocking(&texts[..64])?;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let v = model.embed_blocking(&texts)?;
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(v.len(), texts.len());
    }
    println!(
        "{}",
        serde_json::json!({
            "sentences": count,
            "seconds": best,
            "per_second": count as f64 / best,
            "model_load_ms": load_ms,
            "first_sentence_ms": first_ms,
        })
    );
    Ok(())
}
