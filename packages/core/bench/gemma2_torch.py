"""The PyTorch side of the training benchmark (training.bench.ts): Gemma 2 written in PyTorch
with the semantics of Hugging Face's modeling_gemma2.py (embedding * sqrt(hidden), RMSNorm with
(1 + w), grouped-query attention, half-split RoPE, attention soft-cap before the mask,
query_pre_attn_scalar, sliding window on the even layers, GeGLU with tanh GELU, sandwich norms,
final soft-cap, tied embedding), in float32, and one training step as a PyTorch user writes it:
forward, mean next-token cross-entropy, backward, clip_grad_norm_(1), torch.optim.AdamW.

Usage: python3 gemma2_torch.py FOLDER THREADS LR. FOLDER holds config.json (Hugging Face keys),
model.safetensors (float32) and batch.json (rows of T + 1 token ids), written by the TypeScript
bench. The process prints one JSON line when ready, then answers commands read from stdin, one per
line, with one JSON line each, so the bench can interleave its own steps with ours:
  steps N   -> {"losses": [...], "seconds": [...]}   N training steps
  sgemm N   -> {"gflops": G}                          best of N [1024 x 1024] x [1024 x 1024]
  quit
Without torch it prints {"unavailable": reason} and exits 0.

PyTorch for this: Debian 12's `apt-get install -y python3-torch libopenblas0-pthread` (without an
optimised BLAS, Debian's torch falls back to the reference BLAS, 10-20x slower).
"""

import json
import math
import os
import struct
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:
    print(json.dumps({"unavailable": f"cannot import torch ({error})"}), flush=True)
    sys.exit(0)


def read_safetensors(path):
    """float32 tensors by name from a safetensors file (an 8-byte header length, a JSON header, the data)."""
    with open(path, "rb") as file:
        blob = file.read()
    (header_bytes,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_bytes])
    data = memoryview(blob)[8 + header_bytes :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: expected F32, got {info['dtype']}")
        start, end = info["data_offsets"]
        values = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32)
        tensors[name] = values.reshape(info["shape"])
    return tensors


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + weight)


def soft_cap(x, cap):
    return x if cap is None else torch.tanh(x / cap) * cap


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Gemma2:
    def __init__(self, config, weights):
        self.config = config
        self.params = {name: torch.nn.Parameter(tensor) for name, tensor in weights.items()}
        head_dim = config["head_dim"]
        theta = config.get("rope_theta", 10000.0)
        self.inverse_frequencies = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))

    def rope(self, seq):
        angles = torch.arange(seq, dtype=torch.float32)[:, None] * self.inverse_frequencies[None, :]
        angles = torch.cat((angles, angles), dim=-1)
        return angles.cos(), angles.sin()

    def masks(self, seq):
        position = torch.arange(seq)
        distance = position[:, None] - position[None, :]
        causal = distance >= 0
        return {"full_attention": causal, "sliding_attention": causal & (distance < self.config["sliding_window"])}

    def attention(self, layer, x, cos, sin, mask):
        c, p = self.config, self.params
        batch, seq, _ = x.shape
        heads, kv_heads, head_dim = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        project = lambda name, count: F.linear(x, p[f"{layer}.self_attn.{name}.weight"]).view(batch, seq, count, head_dim).transpose(1, 2)
        q, k, v = project("q_proj", heads), project("k_proj", kv_heads), project("v_proj", kv_heads)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # Grouped-query attention: each key/value head serves heads / kv_heads query heads (repeat_kv).
        k = k.repeat_interleave(heads // kv_heads, dim=1)
        v = v.repeat_interleave(heads // kv_heads, dim=1)
        scores = soft_cap(q @ k.transpose(2, 3) * c["query_pre_attn_scalar"] ** -0.5, c.get("attn_logit_softcapping"))
        scores = scores.masked_fill(~mask, torch.finfo(torch.float32).min)
        context = torch.softmax(scores, dim=-1, dtype=torch.float32) @ v
        return F.linear(context.transpose(1, 2).reshape(batch, seq, heads * head_dim), p[f"{layer}.self_attn.o_proj.weight"])

    def logits(self, ids):
        c, p = self.config, self.params
        eps = c["rms_norm_eps"]
        embedding = p["model.embed_tokens.weight"]
        x = F.embedding(ids, embedding) * torch.tensor(math.sqrt(c["hidden_size"]), dtype=torch.float32)
        cos, sin = self.rope(ids.shape[1])
        masks = self.masks(ids.shape[1])
        layer_types = c.get("layer_types") or ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(c["num_hidden_layers"])]
        for i, kind in enumerate(layer_types):
            layer = f"model.layers.{i}"
            w = lambda name: p[f"{layer}.{name}.weight"]
            attended = self.attention(layer, rms_norm(x, w("input_layernorm"), eps), cos, sin, masks[kind])
            x = x + rms_norm(attended, w("post_attention_layernorm"), eps)
            normed = rms_norm(x, w("pre_feedforward_layernorm"), eps)
            gated = F.gelu(F.linear(normed, w("mlp.gate_proj")), approximate="tanh") * F.linear(normed, w("mlp.up_proj"))
            x = x + rms_norm(F.linear(gated, w("mlp.down_proj")), w("post_feedforward_layernorm"), eps)
        hidden = rms_norm(x, p["model.norm.weight"], eps)
        return soft_cap(F.linear(hidden, embedding), c.get("final_logit_softcapping"))


def main():
    folder, threads, lr = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    torch.set_num_threads(threads)
    with open(os.path.join(folder, "config.json")) as file:
        config = json.load(file)
    with open(os.path.join(folder, "batch.json")) as file:
        rows = torch.tensor(json.load(file)["rows"], dtype=torch.int64)
    ids, targets = rows[:, :-1].contiguous(), rows[:, 1:].contiguous()
    model = Gemma2(config, read_safetensors(os.path.join(folder, "model.safetensors")))
    parameters = list(model.params.values())
    # gemma-ts's AdamW defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on every weight.
    optimizer = torch.optim.AdamW(parameters, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits = model.logits(ids)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        return loss.item()

    def sgemm(repeats):
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        a @ b
        best = math.inf
        for _ in range(repeats):
            started = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - started)
        return 2 * 1024**3 / best / 1e9

    sgemm(1)
    # Which BLAS torch's matmuls run on: Debian's torch links the libblas.so.3 that the
    # alternatives system picks (OpenBLAS when installed, else the slow reference BLAS).
    with open("/proc/self/maps") as maps:
        blas = sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1]})
    print(json.dumps({"torch": torch.__version__, "blas": blas}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        command, *args = line.split()
        if command == "quit":
            break
        if command == "steps":
            losses, seconds = [], []
            for _ in range(int(args[0])):
                started = time.perf_counter()
                losses.append(step())
                seconds.append(time.perf_counter() - started)
            print(json.dumps({"losses": losses, "seconds": seconds}), flush=True)
        elif command == "sgemm":
            print(json.dumps({"gflops": sgemm(int(args[0]))}), flush=True)
        else:
            print(json.dumps({"error": f"unknown command '{command}'"}), flush=True)


if __name__ == "__main__":
    main()
