//! The local embedder against sentence-transformers: the same weights must give the same
//! vectors (cosine ≥ 0.999) on a fixed sentence set, whose reference vectors were
//! produced by `bench/minilm_reference.py` with sentence-transformers on PyTorch.

use serde_json::Value;
use sluice_core::domain::vector_filter::dot;
use sluice_models::{MiniLm, MINILM_DIR, ONNXRUNTIME_LIB};

#[test]
fn minilm_matches_sentence_transformers() {
    let models = sluice_core::Config::from_env()
        .expect("configuration")
        .models_dir;
    let model = MiniLm::load(&models.join(MINILM_DIR), &models.join(ONNXRUNTIME_LIB))
        .unwrap_or_else(|e| panic!("{e}"));
    let fixture: Value =
        serde_json::from_str(include_str!("../../fixtures/minilm_parity.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    let texts: Vec<String> = cases
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect();
    let got = model.embed_blocking(&texts).unwrap();
    let mut worst = f32::MAX;
    for (case, v) in cases.iter().zip(&got) {
        let want: Vec<f32> = case["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(v.len(), 384);
        let cos = dot(v, &want) / (dot(v, v).sqrt() * dot(&want, &want).sqrt());
        println!(
            "cosine {cos:.6}  {:?}",
            &case["text"]
                .as_str()
                .unwrap()
                .chars()
                .take(40)
                .collect::<String>()
        );
        worst = worst.min(cos);
    }
    assert!(worst >= 0.999, "worst cosine {worst}");
    // One at a time gives the same vectors as in a batch (padding does not leak in).
    let single = model.embed_blocking(&texts[..1]).unwrap();
    assert!(dot(&single[0], &got[0]) > 0.99999);
}
