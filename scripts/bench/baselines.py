"""The tools a user would pick instead of convoqa, on the same weights and corpus, 2 threads each.

Usage: baselines.py MODEL_DIR CORPUS RUNS THREADS OUT_JSON [REFERENCE_F32]

MODEL_DIR is the e5 encoder exported to the Hugging Face layout (examples/export_hf.rs). Measures
  - ONNX Runtime fp32: the model exported from PyTorch to ONNX (mean pooling and L2 norm inside
    the graph), texts tokenised with `tokenizers` (tokenizer.json), sorted by length, batches cut
    by the same 4,096-token budget convoqa uses;
  - ONNX Runtime int8: the same graph after onnxruntime.quantization.quantize_dynamic;
  - sentence-transformers on PyTorch: SentenceTransformer(MODEL_DIR).encode, batch 32.
Each: median of RUNS timed passes over the whole corpus after one warm-up, and the cosine of its
embeddings to REFERENCE_F32 (convoqa's, same order) when given.
"""
import json
import os
import sys
import time

import numpy as np

model_dir, corpus, runs, threads, out_json = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
reference = np.fromfile(sys.argv[6], dtype="<f4").reshape(-1, 384) if len(sys.argv) > 6 else None
os.environ["OMP_NUM_THREADS"] = str(threads)

import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer
from transformers import AutoModel

torch.set_num_threads(threads)
texts = ["query: " + t for t in open(corpus, encoding="utf-8").read().splitlines()]
MAX_TOKENS, BATCH_TOKENS = 512, 4096


def timed(fn):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, times


def summary(name, emb, times, tokens):
    med = sorted(times)[len(times) // 2]
    row = {"tool": name, "messages_per_s": len(texts) / med, "tokens_per_s": tokens / med, "runs_seconds": times}
    if reference is not None:
        cos = np.sum(emb * reference, axis=1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(reference, axis=1))
        row["min_cosine_to_convoqa"] = float(cos.min())
        row["mean_cosine_to_convoqa"] = float(cos.mean())
    print(json.dumps(row), file=sys.stderr)
    return row


class Pooled(torch.nn.Module):
    """The encoder with mean pooling and L2 normalisation, as one ONNX graph."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(mean, dim=-1)


work = os.path.dirname(os.path.abspath(out_json))
fp32_path, int8_path = os.path.join(work, "e5-fp32.onnx"), os.path.join(work, "e5-int8.onnx")
bert = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
torch.onnx.export(
    Pooled(bert), example, fp32_path, input_names=["input_ids", "attention_mask"], output_names=["embedding"],
    dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}},
    opset_version=17, dynamo=False,
)
quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)

tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
pad_id = json.load(open(os.path.join(model_dir, "config.json")))["pad_token_id"]


def ort_embed(session):
    ids = [e.ids[:MAX_TOKENS] for e in tokenizer.encode_batch(texts)]
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
    out = np.zeros((len(ids), 384), dtype=np.float32)
    batch = []

    def run(batch):
        width = len(ids[batch[-1]])
        input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for r, i in enumerate(batch):
            input_ids[r, : len(ids[i])] = ids[i]
            mask[r, : len(ids[i])] = 1
        out[batch] = session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]

    for i in order:
        if batch and len(ids[i]) * (len(batch) + 1) > BATCH_TOKENS:
            run(batch)
            batch = []
        batch.append(i)
    if batch:
        run(batch)
    return out


tokens = sum(len(e.ids) for e in tokenizer.encode_batch(texts))
opts = ort.SessionOptions()
opts.intra_op_num_threads = threads
opts.inter_op_num_threads = 1
opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
results = []
for name, path in [("onnxruntime fp32", fp32_path), ("onnxruntime int8 (dynamic quantisation)", int8_path)]:
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    emb, times = timed(lambda: ort_embed(session))
    results.append(summary(f"{name} {ort.__version__}", emb, times, tokens))

st = SentenceTransformer(model_dir, device="cpu")
emb, times = timed(lambda: st.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True))
import sentence_transformers
results.append(summary(f"sentence-transformers {sentence_transformers.__version__} (PyTorch {torch.__version__})", emb, times, tokens))
json.dump(results, open(out_json, "w"), indent=1)
