// An independent Gemma 2 forward pass in plain JavaScript float64, for tests: no graph IR, no
// backend, nothing from src/ but the config and parameter types. Written from modeling_gemma2.py
// (docs/gemma2.md section 1): embedding * sqrt(d); per layer, sandwich RMSNorms with (1 + w),
// half-split RoPE, scores * query_pre_attn_scalar^-0.5, soft-capped before the causal (and, on
// sliding layers, windowed) mask, grouped-query heads, a GELU-gated MLP; the final norm, the tied
// output projection and the final soft-cap. It also returns the pre-cap values, so tests can
// show the caps are reached, and takes the GELU variant as an option, so tests can show that the
// erf GELU is a detectable mistake.
import type { Gemma2Config, Gemma2Params } from "../../src/index.js";

export interface Float64ForwardOptions {
  /** "tanh" (Gemma 2's gelu_pytorch_tanh, the default) or "erf" (the exact GELU: a mistake). */
  activation?: "tanh" | "erf";
}

export interface Float64ForwardResult {
  /** Per position, the vocabSize logits after the final soft-cap (if any). */
  logits: Float64Array[];
  /** Per position, the logits before the final soft-cap. */
  preCapLogits: Float64Array[];
  /** Every attention score a query may see (masked pairs left out), scaled but before the soft-cap. */
  preCapScores: Float64Array;
}

/** Runs one sequence of token ids from position 0 and returns every position's logits. */
export function float64Forward(config: Gemma2Config, params: Gemma2Params, ids: readonly number[], options: Float64ForwardOptions = {}): Float64ForwardResult {
  const weight = (name: string): Float32Array => {
    const tensor = params.get(name);
    if (!tensor) throw new Error(`missing weight ${name}`);
    return tensor.data;
  };
  const gelu = options.activation === "erf" ? geluErf : geluTanh;
  const d = config.hiddenSize;
  const { numAttentionHeads: H, numKeyValueHeads: K, headDim: h } = config;
  const eps = config.rmsNormEps;
  const embedding = weight("model.embed_tokens.weight");

  let x: Float64Array[] = ids.map((id) => Float64Array.from(embedding.subarray(id * d, (id + 1) * d), (value) => value * Math.sqrt(d)));
  const scores: number[] = [];
  config.layerTypes.forEach((kind, layer) => {
    const w = (name: string) => weight(`model.layers.${layer}.${name}.weight`);
    const normed = x.map((row) => rmsNorm(row, w("input_layernorm"), eps));
    const q = normed.map((row, t) => rope(matVec(w("self_attn.q_proj"), row, H * h), t, H, h, config.ropeTheta));
    const k = normed.map((row, t) => rope(matVec(w("self_attn.k_proj"), row, K * h), t, K, h, config.ropeTheta));
    const v = normed.map((row) => matVec(w("self_attn.v_proj"), row, K * h));
    const attended = x.map((_, t) => {
      const merged = new Float64Array(H * h);
      for (let head = 0; head < H; head++) {
        const kvHead = Math.floor(head / (H / K));
        const visible: number[] = [];
        for (let s = 0; s <= t; s++) if (kind === "full_attention" || t - s < config.slidingWindow) visible.push(s);
        const capped = visible.map((s) => {
          let dot = 0;
          for (let i = 0; i < h; i++) dot += q[t]![head * h + i]! * k[s]![kvHead * h + i]!;
          const score = dot / Math.sqrt(config.queryPreAttnScalar);
          scores.push(score);
          return softCap(score, config.attnLogitSoftcapping);
        });
        const probabilities = softmax(capped);
        visible.forEach((s, j) => {
          for (let i = 0; i < h; i++) merged[head * h + i]! += probabilities[j]! * v[s]![kvHead * h + i]!;
        });
      }
      return matVec(w("self_attn.o_proj"), merged, d);
    });
    x = x.map((row, t) => add(row, rmsNorm(attended[t]!, w("post_attention_layernorm"), eps)));
    x = x.map((row) => {
      const n = rmsNorm(row, w("pre_feedforward_layernorm"), eps);
      const gate = matVec(w("mlp.gate_proj"), n, config.intermediateSize);
      const up = matVec(w("mlp.up_proj"), n, config.intermediateSize);
      const hidden = gate.map((g, j) => gelu(g) * up[j]!);
      return add(row, rmsNorm(matVec(w("mlp.down_proj"), hidden, d), w("post_feedforward_layernorm"), eps));
    });
  });
  const preCapLogits = x.map((row) => matVec(embedding, rmsNorm(row, weight("model.norm.weight"), eps), config.vocabSize));
  const logits = preCapLogits.map((row) => row.map((value) => softCap(value, config.finalLogitSoftcapping)));
  return { logits, preCapLogits, preCapScores: Float64Array.from(scores) };
}

/** Row-wise log-softmax in float64, returned as float32 rows to compare with the models' log-probabilities. */
export function logSoftmax64(rows: readonly Float64Array[]): Float32Array[] {
  return rows.map((row) => {
    const max = Math.max(...row);
    let sum = 0;
    for (const value of row) sum += Math.exp(value - max);
    const logSum = max + Math.log(sum);
    return Float32Array.from(row, (value) => value - logSum);
  });
}

/** The share of values whose magnitude is above `cap`. */
export function fractionAbove(values: ArrayLike<number>, cap: number): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (Math.abs(values[i]!) > cap) count++;
  return count / values.length;
}

/** W [out, in] (PyTorch layout, row-major) times x [in]. */
function matVec(w: Float32Array, x: Float64Array, out: number): Float64Array {
  const n = x.length;
  if (w.length !== out * n) throw new Error(`weight of ${w.length} entries is not [${out}, ${n}]`);
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += w[o * n + i]! * x[i]!;
    y[o] = sum;
  }
  return y;
}

function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let meanSquare = 0;
  for (const value of x) meanSquare += value * value;
  const scale = 1 / Math.sqrt(meanSquare / x.length + eps);
  return x.map((value, i) => value * scale * (1 + w[i]!));
}

/** Rotates each head's halves by position t: inverse frequency theta^(-2i/h), i < h/2. */
function rope(x: Float64Array, t: number, heads: number, h: number, theta: number): Float64Array {
  const half = h / 2;
  const out = new Float64Array(x.length);
  for (let head = 0; head < heads; head++) {
    for (let i = 0; i < half; i++) {
      const angle = t * theta ** ((-2 * i) / h);
      const a = x[head * h + i]!;
      const b = x[head * h + half + i]!;
      out[head * h + i] = a * Math.cos(angle) - b * Math.sin(angle);
      out[head * h + half + i] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  }
  return out;
}

function softCap(x: number, cap: number | null): number {
  return cap === null ? x : cap * Math.tanh(x / cap);
}

function softmax(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((value) => Math.exp(value - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / sum);
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((value, i) => value + b[i]!);
}

function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

function geluErf(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** erf to ~1e-15: the Maclaurin series below 2, 1 - erfc by its continued fraction (modified Lentz) above. */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let value: number;
  if (a < 2) {
    let term = a;
    value = a;
    for (let n = 1; n < 100 && Math.abs(term) > 1e-18; n++) {
      term *= (-a * a) / n;
      value += term / (2 * n + 1);
    }
    value *= 2 / Math.sqrt(Math.PI);
  } else {
    // erfc(a) = exp(-a^2)/sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))
    let f = a;
    let c = a;
    let dd = 0;
    for (let j = 1; j < 1000; j++) {
      dd = 1 / (a + (j / 2) * dd);
      c = a + j / 2 / c;
      const delta = c * dd;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    value = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -value : value;
}
