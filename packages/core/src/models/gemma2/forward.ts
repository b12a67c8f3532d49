// The Gemma 2 forward pass on one screen, traced into IR. Per layer (sandwich norms):
//   x = x + post_attn_norm(attn(input_norm(x)));  x = x + post_ffw_norm(mlp(pre_ffw_norm(x)))
// then the final norm, the tied output projection and the final soft-cap. Weights come from a
// WeightSource: constants for inference (onnxruntime pre-packs them), graph inputs for training.
import type { SymbolicTensor } from "../../graph/builder.js";
import { attention } from "../../nn/attention.js";
import { InvalidArgumentError } from "../../errors.js";
import { geluTanh, linear, rmsNorm, softCap } from "../../nn/layers.js";
import { isLora } from "../../nn/lora.js";
import { gatherRows, isQuantized, type Weight } from "../../nn/quantized.js";
import type { Gemma2Config, LayerKind } from "./config.js";

/** The IR tensor of a parameter, by Hugging Face name: float, or block-quantized for matrices. */
export type WeightSource = (name: string) => Weight;

export interface Gemma2ForwardInputs {
  /** Token ids, int64 [B, T]. */
  ids: SymbolicTensor;
  /** RoPE tables of the T positions, [T, headDim/2] each (ropeTables), or per row [B, 1, T, headDim/2]. */
  cos: SymbolicTensor;
  sin: SymbolicTensor;
  /**
   * bool [T, P + T] per layer kind (attentionMask), P the cached keys of that kind of layer, or
   * per row [B, 1, 1, T, P + T] when the rows of a batch sit at different positions.
   */
  masks: Readonly<Record<LayerKind, SymbolicTensor>>;
  /** Per layer, the cached rotated keys and values [B, K, P, h]. */
  past?: readonly { keys: SymbolicTensor; values: SymbolicTensor }[] | undefined;
}

export interface Gemma2ForwardOutputs {
  /** [B, T, vocab], soft-capped. */
  logits: SymbolicTensor;
  /** [B, T, hidden], the final norm's output (what the output projection and a value head read). */
  hidden: SymbolicTensor;
  /** Per layer, the new positions' keys and values [B, K, T, h]. */
  keys: SymbolicTensor[];
  values: SymbolicTensor[];
  /** Per layer, the past then the new keys and values [B, K, P + T, h]: a full-length cache's next state. */
  allKeys: SymbolicTensor[];
  allValues: SymbolicTensor[];
}

export function gemma2Forward(config: Gemma2Config, weight: WeightSource, inputs: Gemma2ForwardInputs): Gemma2ForwardOutputs {
  const eps = config.rmsNormEps;
  const embedding = weight("model.embed_tokens.weight");
  const norm = (name: string): SymbolicTensor => {
    const tensor = weight(name);
    if (isQuantized(tensor) || isLora(tensor)) throw new InvalidArgumentError(name, "a norm weight must be a plain float tensor");
    return tensor;
  };
  // The scale is cast to the activation dtype before multiplying, as in modeling_gemma2.py.
  let x = gatherRows(embedding, inputs.ids).mul(Math.fround(Math.sqrt(config.hiddenSize)));
  const keys: SymbolicTensor[] = [];
  const values: SymbolicTensor[] = [];
  const allKeys: SymbolicTensor[] = [];
  const allValues: SymbolicTensor[] = [];
  const shape = {
    numHeads: config.numAttentionHeads,
    numKeyValueHeads: config.numKeyValueHeads,
    headDim: config.headDim,
    queryPreAttnScalar: config.queryPreAttnScalar,
    softCap: config.attnLogitSoftcapping,
  };
  config.layerTypes.forEach((kind, i) => {
    const w = (name: string) => weight(`model.layers.${i}.${name}.weight`);
    const n = (name: string) => norm(`model.layers.${i}.${name}.weight`);
    const attended = attention(
      shape,
      { q: w("self_attn.q_proj"), k: w("self_attn.k_proj"), v: w("self_attn.v_proj"), o: w("self_attn.o_proj") },
      { x: rmsNorm(x, n("input_layernorm"), eps), cos: inputs.cos, sin: inputs.sin, mask: inputs.masks[kind], past: inputs.past?.[i] },
    );
    keys.push(attended.keys);
    values.push(attended.values);
    allKeys.push(attended.allKeys);
    allValues.push(attended.allValues);
    x = x.add(rmsNorm(attended.output, n("post_attention_layernorm"), eps));
    const normed = rmsNorm(x, n("pre_feedforward_layernorm"), eps);
    const mlp = linear(geluTanh(linear(normed, w("mlp.gate_proj"))).mul(linear(normed, w("mlp.up_proj"))), w("mlp.down_proj"));
    x = x.add(rmsNorm(mlp, n("post_feedforward_layernorm"), eps));
  });
  const hidden = rmsNorm(x, norm("model.norm.weight"), eps);
  const logits = softCap(linear(hidden, embedding), config.finalLogitSoftcapping);
  return { logits, hidden, keys, values, allKeys, allValues };
}
