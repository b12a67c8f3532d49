// The Gemma 2 decoder as one ONNX graph with a KV cache, in the signature Optimum exports for
// decoder models with past key values (docs/gemma2.md section 5.1) and transformers.js feeds (5.2).
// The math is that of models/gemma2/forward.ts (nn/attention.ts, nn/layers.ts, nn/rope.ts), with
// RoPE and the causal / sliding-window / padding masks computed in the graph from its inputs.
import type { ExternalData } from "../../backend/onnx/external-data.js";
import { ConfigMismatchError, InvalidArgumentError } from "../../errors.js";
import type { Gemma2Config } from "../../models/gemma2/config.js";
import { parameterSpecs, type Gemma2Params } from "../../models/gemma2/params.js";
import { HostTensor } from "../../tensor/host-tensor.js";
import { intAttribute, intsAttribute } from "../../backend/onnx/attributes.js";
import { onnxElementType } from "../../backend/onnx/tensor-proto.js";
import { DynamicGraph, type Dim, type Value } from "./dynamic-graph.js";

/** Opset 17: ReduceMean still takes axes as an attribute, Unsqueeze/Slice take them as inputs. */
export const GEMMA2_ONNX_OPSET = 17;

/** Optimum's dim_param names; transformers.js binds batch_size and starts past_sequence_length at 0. */
export const ONNX_DIMS = {
  batch: "batch_size",
  sequence: "sequence_length",
  past: "past_sequence_length",
  total: "past_sequence_length + sequence_length",
} as const;

/**
 * A protobuf message cannot exceed 2 GiB, and the weights are initializers inside it. Kept a little
 * under the hard limit for the graph itself (names, value infos, small constants).
 */
export const MAX_ONNX_WEIGHT_BYTES = 2 ** 31 - 1 - 16 * 2 ** 20;

/**
 * Stands in for -inf where a key is masked (Hugging Face uses torch.finfo(float32).min too). A left
 * padding query sees no key at all; with -inf its softmax is NaN, which reaches that position's
 * present keys/values and then, as 0 * NaN in probabilities x values, every later step of the row.
 */
const MASKED_SCORE = -3.4028234663852886e38;

export interface Gemma2OnnxSignature {
  inputs: { name: string; dtype: "int64" | "float32"; dims: Dim[] }[];
  outputs: { name: string; dtype: "float32"; dims: Dim[] }[];
}

/** The names, dtypes and dims of the exported model's inputs and outputs, in order. */
export function gemma2OnnxSignature(config: Gemma2Config): Gemma2OnnxSignature {
  const { batch, sequence, past, total } = ONNX_DIMS;
  const K = config.numKeyValueHeads;
  const h = config.headDim;
  const layers = Array.from({ length: config.numHiddenLayers }, (_, i) => i);
  const cache = (prefix: string, length: string) =>
    layers.flatMap((i) => (["key", "value"] as const).map((part) => ({ name: `${prefix}.${i}.${part}`, dtype: "float32" as const, dims: [batch, K, length, h] })));
  return {
    inputs: [
      { name: "input_ids", dtype: "int64", dims: [batch, sequence] },
      { name: "attention_mask", dtype: "int64", dims: [batch, total] },
      { name: "position_ids", dtype: "int64", dims: [batch, sequence] },
      ...cache("past_key_values", past),
    ],
    outputs: [{ name: "logits", dtype: "float32", dims: [batch, sequence, config.vocabSize] }, ...cache("present", total)],
  };
}

/** Bytes of float32 weights for this config. */
export function onnxWeightBytes(config: Gemma2Config): number {
  return parameterSpecs(config).reduce((total, spec) => total + 4 * spec.shape.reduce((a, b) => a * b, 1), 0);
}

/** Optimum's name for the external data file, beside model.onnx. */
export const ONNX_DATA_FILE_NAME = "model.onnx_data";

/**
 * Encodes the model (opset 17), weights as initializers under their Hugging Face names: inside
 * the protobuf, or with `externalData` in a data file named ONNX_DATA_FILE_NAME (required past
 * MAX_ONNX_WEIGHT_BYTES, as Optimum does).
 */
export function gemma2OnnxModel(config: Gemma2Config, params: Gemma2Params, options: { externalData?: boolean } = {}): { model: Uint8Array; external: ExternalData | undefined } {
  const bytes = onnxWeightBytes(config);
  if (!options.externalData && bytes > MAX_ONNX_WEIGHT_BYTES) {
    throw new InvalidArgumentError("config", `${bytes} bytes of float32 weights exceed the 2 GiB that one ONNX protobuf can hold; export with external data`);
  }
  const g = new DynamicGraph();
  const signature = gemma2OnnxSignature(config);
  const io = new Map<string, Value>();
  for (const input of signature.inputs) io.set(input.name, g.input(input.name, input.dtype, input.dims));
  const value = (name: string): Value => io.get(name)!;

  const specs = parameterSpecs(config);
  const known = new Set(specs.map((spec) => spec.name));
  for (const name of params.keys()) {
    if (!known.has(name)) throw new ConfigMismatchError(name, "is not a parameter of this config; refusing to drop it silently");
  }
  const weights = new Map<string, Value>();
  for (const spec of specs) {
    const tensor = params.get(spec.name);
    if (!tensor) throw new ConfigMismatchError(spec.name, "missing from the parameters being exported");
    if (tensor.shape.length !== spec.shape.length || tensor.shape.some((d, i) => d !== spec.shape[i])) {
      throw new ConfigMismatchError(spec.name, `expected shape [${spec.shape.join(", ")}], got [${tensor.shape.join(", ")}]`);
    }
    weights.set(spec.name, g.initializer(spec.name, tensor));
  }
  const weight = (name: string): Value => weights.get(name)!;

  const ops = new Gemma2Ops(g, config, value("input_ids"));
  const { cos, sin } = ops.ropeTables(value("position_ids"));
  const masks = ops.masks(value("attention_mask"));

  // Embedding, scaled by sqrt(hidden) cast to float32 first (modeling_gemma2.py, forward.ts).
  let x = g.op("Mul", [g.op("Gather", [weight("model.embed_tokens.weight"), value("input_ids")], [intAttribute("axis", 0)]), g.scalar(Math.fround(Math.sqrt(config.hiddenSize)))]);
  config.layerTypes.forEach((kind, i) => {
    const w = (name: string) => weight(`model.layers.${i}.${name}.weight`);
    const attended = ops.attention(ops.rmsNorm(x, w("input_layernorm")), i, {
      q: w("self_attn.q_proj"),
      k: w("self_attn.k_proj"),
      v: w("self_attn.v_proj"),
      o: w("self_attn.o_proj"),
      cos,
      sin,
      mask: masks[kind],
      pastKey: value(`past_key_values.${i}.key`),
      pastValue: value(`past_key_values.${i}.value`),
    });
    x = g.op("Add", [x, ops.rmsNorm(attended, w("post_attention_layernorm"))]);
    const normed = ops.rmsNorm(x, w("pre_feedforward_layernorm"));
    const gated = g.op("Mul", [ops.geluTanh(ops.linear(normed, w("mlp.gate_proj"))), ops.linear(normed, w("mlp.up_proj"))]);
    x = g.op("Add", [x, ops.rmsNorm(ops.linear(gated, w("mlp.down_proj")), w("post_feedforward_layernorm"))]);
  });
  const logits = ops.softCap(ops.tiedHead(ops.rmsNorm(x, weight("model.norm.weight")), weight("model.embed_tokens.weight")), config.finalLogitSoftcapping);

  const outputs = new Map<string, Value>([["logits", logits]]);
  for (const [name, present] of ops.presents) outputs.set(name, present);
  for (const output of signature.outputs) g.output(output.name, outputs.get(output.name)!, output.dtype, output.dims);
  return g.toModel({ opset: GEMMA2_ONNX_OPSET, graphName: "gemma2" }, options.externalData ? { minBytes: 1024, location: ONNX_DATA_FILE_NAME } : undefined);
}

interface AttentionArgs {
  q: Value;
  k: Value;
  v: Value;
  o: Value;
  cos: Value;
  sin: Value;
  mask: Value;
  pastKey: Value;
  pastValue: Value;
}

/** The layers of forward.ts as ONNX nodes; batch and new-token counts are read from input_ids at run time. */
class Gemma2Ops {
  /** present.{i}.key / .value, filled by attention(). */
  readonly presents = new Map<string, Value>();
  private readonly B: Value;
  private readonly T: Value;

  constructor(
    private readonly g: DynamicGraph,
    private readonly config: Gemma2Config,
    private readonly inputIds: Value,
  ) {
    this.B = g.dim(inputIds, 0);
    this.T = g.dim(inputIds, 1);
  }

  /** x [..., in] times a PyTorch [out, in] weight; onnxruntime folds the constant Transpose at load. */
  linear(x: Value, weight: Value): Value {
    return this.g.op("MatMul", [x, this.g.transpose(weight, [1, 0])]);
  }

  /** x / sqrt(mean(x^2) + eps) * (1 + w), as nn/layers.ts. */
  rmsNorm(x: Value, weight: Value): Value {
    const { g } = this;
    const meanSquare = g.op("ReduceMean", [g.op("Mul", [x, x])], [intsAttribute("axes", [-1]), intAttribute("keepdims", 1)]);
    const inverseRms = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [meanSquare, g.scalar(this.config.rmsNormEps)])])]);
    return g.op("Mul", [g.op("Mul", [x, inverseRms]), g.op("Add", [weight, g.scalar(1)])]);
  }

  softCap(x: Value, cap: number | null): Value {
    const { g } = this;
    return cap === null ? x : g.op("Mul", [g.op("Tanh", [g.op("Div", [x, g.scalar(cap)])]), g.scalar(cap)]);
  }

  /** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as nn/layers.ts. */
  geluTanh(x: Value): Value {
    const { g } = this;
    const cube = g.op("Mul", [g.op("Mul", [x, x]), x]);
    const inner = g.op("Mul", [g.op("Add", [x, g.op("Mul", [cube, g.scalar(0.044715)])]), g.scalar(Math.sqrt(2 / Math.PI))]);
    return g.op("Mul", [g.op("Mul", [x, g.op("Add", [g.op("Tanh", [inner]), g.scalar(1)])]), g.scalar(0.5)]);
  }

  /** Logits through the embedding itself: Gemm with transB reads it in place, with no transposed copy. */
  tiedHead(x: Value, embedding: Value): Value {
    const { g } = this;
    const rows = g.reshape(x, [-1, this.config.hiddenSize]);
    const logits = g.op("Gemm", [rows, embedding], [intAttribute("transB", 1)]);
    return g.reshape(logits, [this.B, this.T, this.config.vocabSize]);
  }

  /**
   * cos and sin of position * inv_freq, [B, 1, T, headDim/2] (broadcast over heads). inv_freq is
   * float32 as rope.ts and Hugging Face compute it; the product is a float32 multiply, as there.
   */
  ropeTables(positionIds: Value): { cos: Value; sin: Value } {
    const { g } = this;
    const { headDim, ropeTheta } = this.config;
    const half = headDim / 2;
    const inverseFrequency = HostTensor.float32([half]);
    for (let i = 0; i < half; i++) inverseFrequency.data[i] = Math.fround(1 / Math.fround(ropeTheta ** ((2 * i) / headDim)));
    const positions = g.unsqueeze(g.op("Cast", [positionIds], [intAttribute("to", onnxElementType("float32"))]), [-1]); // [B, T, 1]
    const angles = g.op("Mul", [positions, g.initializer("rope.inv_freq", inverseFrequency)]); // [B, T, half]
    return { cos: g.unsqueeze(g.op("Cos", [angles]), [1]), sin: g.unsqueeze(g.op("Sin", [angles]), [1]) };
  }

  /**
   * bool [B, 1, 1, T, S] per layer kind, S = past + T keys at indices 0..S-1, the T queries at
   * indices S-T..S-1. A key is visible where attention_mask is 1 and key <= query; on sliding
   * layers also query - key <= window - 1 (masks.ts). Indices, not position_ids, decide: with
   * left padding they differ by the padding, which the attention_mask hides anyway (as Hugging
   * Face's cache_position does).
   */
  masks(attentionMask: Value): Record<"full_attention" | "sliding_attention", Value> {
    const { g } = this;
    const S = g.scalarDim(attentionMask, 1);
    const P = g.op("Sub", [S, g.scalarDim(this.inputIds, 1)]);
    const zero = g.scalar(0, "int64");
    const one = g.scalar(1, "int64");
    const keys = g.op("Range", [zero, S, one]); // [S]
    const queries = g.op("Range", [P, S, one]); // [T]
    const distance = g.op("Sub", [g.unsqueeze(queries, [1]), keys]); // [T, S]
    const causal = g.op("GreaterOrEqual", [distance, zero]);
    const padding = g.unsqueeze(g.op("Cast", [attentionMask], [intAttribute("to", onnxElementType("bool"))]), [1, 2, 3]); // [B, 1, 1, 1, S]
    const full = g.op("And", [padding, causal]);
    const inWindow = g.op("LessOrEqual", [distance, g.scalar(this.config.slidingWindow - 1, "int64")]);
    return { full_attention: full, sliding_attention: g.op("And", [full, inWindow]) };
  }

  /**
   * Grouped-query attention of nn/attention.ts on x [B, T, d]: queries [B, K, G, T, h] against
   * keys [B, K, 1, S, h], scores scaled and soft-capped before the mask, softmax over keys.
   * Records present = concat(past, new) for keys (after RoPE) and values.
   */
  attention(x: Value, layer: number, a: AttentionArgs): Value {
    const { g, B, T } = this;
    const { numAttentionHeads: H, numKeyValueHeads: K, headDim: h } = this.config;
    const G = H / K;
    const heads = (projected: Value, count: number) => g.transpose(g.reshape(projected, [B, T, count, h]), [0, 2, 1, 3]);
    const queries = this.applyRope(heads(this.linear(x, a.q), H), a.cos, a.sin);
    const keys = this.applyRope(heads(this.linear(x, a.k), K), a.cos, a.sin);
    const values = heads(this.linear(x, a.v), K);
    const allKeys = g.op("Concat", [a.pastKey, keys], [intAttribute("axis", 2)]); // [B, K, S, h]
    const allValues = g.op("Concat", [a.pastValue, values], [intAttribute("axis", 2)]);
    this.presents.set(`present.${layer}.key`, allKeys);
    this.presents.set(`present.${layer}.value`, allValues);

    const grouped = g.reshape(queries, [B, K, G, T, h]);
    const keysT = g.transpose(g.unsqueeze(allKeys, [2]), [0, 1, 2, 4, 3]); // [B, K, 1, h, S]
    let scores = g.op("Mul", [g.op("MatMul", [grouped, keysT]), g.scalar(this.config.queryPreAttnScalar ** -0.5)]);
    scores = this.softCap(scores, this.config.attnLogitSoftcapping);
    scores = g.op("Where", [a.mask, scores, g.scalar(MASKED_SCORE)]);
    const probabilities = g.op("Softmax", [scores], [intAttribute("axis", -1)]);
    const context = g.op("MatMul", [probabilities, g.unsqueeze(allValues, [2])]); // [B, K, G, T, h]
    const merged = g.reshape(g.transpose(g.reshape(context, [B, H, T, h]), [0, 2, 1, 3]), [B, T, H * h]);
    return this.linear(merged, a.o);
  }

  /** Half-split ("rotate_half") RoPE of x [B, heads, T, h], as nn/rope.ts. */
  private applyRope(x: Value, cos: Value, sin: Value): Value {
    const { g } = this;
    const h = this.config.headDim;
    const x1 = g.sliceLast(x, 0, h / 2);
    const x2 = g.sliceLast(x, h / 2, h);
    const first = g.op("Sub", [g.op("Mul", [x1, cos]), g.op("Mul", [x2, sin])]);
    const second = g.op("Add", [g.op("Mul", [x2, cos]), g.op("Mul", [x1, sin])]);
    return g.op("Concat", [first, second], [intAttribute("axis", -1)]);
  }
}
