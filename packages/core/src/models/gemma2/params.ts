// The one list of Gemma 2's tensors, with Hugging Face names and PyTorch shapes ([out, in] for
// linear layers). Loaders, writers, init, the optimiser, averaging and tests all enumerate
// parameters through here, so no second list can drift (gemma.cpp's ForEachTensor idea).
// No lm_head: the output projection is the embedding (tied). Norm weights are stored as w;
// the model uses 1 + w.
import { ConfigMismatchError } from "../../errors.js";
import type { HostTensor } from "../../tensor/host-tensor.js";
import type { Gemma2Config } from "./config.js";

export type ParameterKind = "embedding" | "norm" | "linear";

export interface ParameterSpec {
  name: string;
  shape: readonly number[];
  kind: ParameterKind;
}

/** Weights by Hugging Face name. */
export type Gemma2Params = Map<string, HostTensor<"float32">>;

export function parameterSpecs(config: Gemma2Config): ParameterSpec[] {
  const d = config.hiddenSize;
  const q = config.numAttentionHeads * config.headDim;
  const kv = config.numKeyValueHeads * config.headDim;
  const f = config.intermediateSize;
  const specs: ParameterSpec[] = [{ name: "model.embed_tokens.weight", shape: [config.vocabSize, d], kind: "embedding" }];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const layer = `model.layers.${i}`;
    specs.push(
      { name: `${layer}.input_layernorm.weight`, shape: [d], kind: "norm" },
      { name: `${layer}.self_attn.q_proj.weight`, shape: [q, d], kind: "linear" },
      { name: `${layer}.self_attn.k_proj.weight`, shape: [kv, d], kind: "linear" },
      { name: `${layer}.self_attn.v_proj.weight`, shape: [kv, d], kind: "linear" },
      { name: `${layer}.self_attn.o_proj.weight`, shape: [d, q], kind: "linear" },
      { name: `${layer}.post_attention_layernorm.weight`, shape: [d], kind: "norm" },
      { name: `${layer}.pre_feedforward_layernorm.weight`, shape: [d], kind: "norm" },
      { name: `${layer}.mlp.gate_proj.weight`, shape: [f, d], kind: "linear" },
      { name: `${layer}.mlp.up_proj.weight`, shape: [f, d], kind: "linear" },
      { name: `${layer}.mlp.down_proj.weight`, shape: [d, f], kind: "linear" },
      { name: `${layer}.post_feedforward_layernorm.weight`, shape: [d], kind: "norm" },
    );
  }
  specs.push({ name: "model.norm.weight", shape: [d], kind: "norm" });
  return specs;
}

export function parameterCount(config: Gemma2Config): number {
  return parameterSpecs(config).reduce((total, spec) => total + spec.shape.reduce((a, b) => a * b, 1), 0);
}

/** Visits every parameter in the canonical order, with its spec. */
export function forEachParameter(
  config: Gemma2Config,
  params: Gemma2Params,
  visit: (spec: ParameterSpec, tensor: HostTensor<"float32">) => void,
): void {
  for (const spec of parameterSpecs(config)) {
    const tensor = params.get(spec.name);
    if (!tensor) throw new ConfigMismatchError(spec.name, "missing");
    visit(spec, tensor);
  }
}

/** The matrices weight quantization applies to: the embedding and the seven projections of each layer. */
export function isQuantizable(name: string): boolean {
  return name === "model.embed_tokens.weight" || /\.(q|k|v|o|gate|up|down)_proj\.weight$/.test(name);
}
