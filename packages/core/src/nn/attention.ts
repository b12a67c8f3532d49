// Gemma 2 self-attention as IR: grouped-query attention (each key/value head serves a group of
// query heads), RoPE on queries and keys, scores scaled by query_pre_attn_scalar^-0.5 and
// soft-capped *before* the mask (as modeling_gemma2.py and llama.cpp's build_gemma2 do), softmax
// in float32. Keys and values of earlier positions (the KV cache) come in as `past`.
import type { SymbolicTensor } from "../graph/builder.js";
import type { Dim } from "../graph/dims.js";
import type { Weight } from "./quantized.js";
import { linear, softCap } from "./layers.js";
import { applyRope } from "./rope.js";

export interface AttentionWeights {
  q: Weight; // [H*h, d]
  k: Weight; // [K*h, d]
  v: Weight; // [K*h, d]
  o: Weight; // [d, H*h]
}

export interface AttentionShape {
  numHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  queryPreAttnScalar: number;
  softCap: number | null;
}

export interface AttentionInputs {
  /** Normed hidden states [B, T, d]. */
  x: SymbolicTensor;
  /** RoPE tables for the T new positions, [T, h/2] each (or per row, [B, 1, T, h/2]). */
  cos: SymbolicTensor;
  sin: SymbolicTensor;
  /** bool [T, P + T] (or per row [B, 1, 1, T, P + T]): may query t see key s (past keys first, then the new ones)? */
  mask: SymbolicTensor;
  /** Rotated keys and values of earlier positions, [B, K, P, h] each. */
  past?: { keys: SymbolicTensor; values: SymbolicTensor } | undefined;
}

export interface AttentionOutputs {
  /** [B, T, d] */
  output: SymbolicTensor;
  /** The new positions' rotated keys and values, [B, K, T, h], for the cache. */
  keys: SymbolicTensor;
  values: SymbolicTensor;
  /** The keys and values attended to: past then new, [B, K, P + T, h] (the new alone without a past). */
  allKeys: SymbolicTensor;
  allValues: SymbolicTensor;
}

/**
 * Stands in for -inf where a key is masked (Hugging Face uses torch.finfo(float32).min too). A
 * query that sees no key at all (a left-padding position of a graph that masks by attention_mask)
 * gets a uniform softmax instead of NaN, which would reach its keys and values and, as 0 * NaN in
 * probabilities x values, every later step of the row. Where some key is visible, exp of the
 * masked scores is exactly 0, as with -inf.
 */
export const MASKED_SCORE = -3.4028234663852886e38;

export function attention(shape: AttentionShape, weights: AttentionWeights, inputs: AttentionInputs): AttentionOutputs {
  const { numHeads: H, numKeyValueHeads: K, headDim: h } = shape;
  const G = H / K;
  const { x, cos, sin, mask } = inputs;
  const [B, T] = x.shape as [Dim, Dim, Dim];
  const b = x.builder;

  // [B, T, heads*h] -> [B, heads, T, h]
  const heads = (projected: SymbolicTensor, count: number) => projected.reshape([B, T, count, h]).transpose([0, 2, 1, 3]);
  const queries = applyRope(heads(linear(x, weights.q), H), cos, sin);
  const keys = applyRope(heads(linear(x, weights.k), K), cos, sin);
  const values = heads(linear(x, weights.v), K);

  const allKeys = inputs.past ? b.concat([inputs.past.keys, keys], 2) : keys;
  const allValues = inputs.past ? b.concat([inputs.past.values, values], 2) : values;
  const S = allKeys.shape[2]!;

  // Group query heads under their key/value head: [B, K, G, T, h] against [B, K, 1, S, h].
  const groupedQueries = queries.reshape([B, K, G, T, h]);
  const keysT = allKeys.reshape([B, K, 1, S, h]).transpose([0, 1, 2, 4, 3]);
  let scores = groupedQueries.matmul(keysT).mul(shape.queryPreAttnScalar ** -0.5); // [B, K, G, T, S]
  scores = softCap(scores, shape.softCap);
  scores = b.where(mask, scores, b.scalar(MASKED_SCORE));
  const probabilities = scores.softmax(-1);
  const context = probabilities.matmul(allValues.reshape([B, K, 1, S, h])); // [B, K, G, T, h]

  const merged = context.reshape([B, H, T, h]).transpose([0, 2, 1, 3]).reshape([B, T, H * h]);
  return { output: linear(merged, weights.o), keys, values, allKeys, allValues };
}
