//! Feature-search latency on the local vector index (exact cosine over an in-memory copy,
//! persisted in SQLite) at 10 k and 100 k 384-d vectors, against a naive exact search in
//! the same run (score every row, sort them all).

use std::time::Instant;

use serde_json::{json, Map, Value};
use sluice_backend_local::LocalVectorIndex;
use sluice_core::domain::vector_filter::{dot, normalized};
use sluice_core::ports::{VectorIndex, VectorRecord};

const DIMS: usize = 384;
const QUERIES: usize = 200;

struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
    fn vector(&mut self) -> Vec<f32> {
        normalized((0..DIMS).map(|_| self.unit()).collect())
    }
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let index = LocalVectorIndex::open(&dir.path().join("vectors.db"))?;
    index.ensure_index("bench", DIMS).await?;
    let mut rng = Rng(0x2545f4914f6cdd1d);
    let mut all: Vec<Vec<f32>> = Vec::new();
    let queries: Vec<Vec<f32>> = (0..QUERIES).map(|_| rng.vector()).collect();
    let filter = json!({"metadata.topic": {"$eq": "t3"}});
    for size in [10_000usize, 100_000] {
        while all.len() < size {
            let batch: Vec<VectorRecord> = (0..1000)
                .map(|_| {
                    let i = all.len();
                    let v = rng.vector();
                    all.push(v.clone());
                    let mut metadata = Map::new();
                    metadata.insert("metadata.topic".into(), Value::from(format!("t{}", i % 10)));
                    VectorRecord { key: format!("doc{i}"), vector: v, metadata }
                })
                .collect();
            index.put("bench", batch).await?;
        }
        let mut ours = Vec::new();
        let mut filtered = Vec::new();
        let mut naive = Vec::new();
        for q in &queries {
            let t = Instant::now();
            let hits = index.query("bench", q, 10, None).await?;
            ours.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let f = index.query("bench", q, 10, Some(&filter)).await?;
            filtered.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(f.iter().all(|h| h.metadata["metadata.topic"] == "t3"));
            let t = Instant::now();
            let mut scored: Vec<(f32, usize)> = all.iter().enumerate().map(|(i, v)| (dot(q, v), i)).collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            naive.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(hits[0].key, format!("doc{}", scored[0].1), "exact search agrees with the baseline");
        }
        let (p50, p95) = (percentile(ours.clone(), 0.5), percentile(ours, 0.95));
        let base = percentile(naive, 0.5);
        println!(
            "{}",
            json!({
                "vectors": size,
                "top_k": 10,
                "p50_ms": p50,
                "p95_ms": p95,
                "filtered_p50_ms": percentile(filtered, 0.5),
                "naive_sort_p50_ms": base,
                "ratio_to_naive": p50 / base,
            })
        );
    }
    Ok(())
}
