// A random Gemma 2 for tests: seeded weights, and norm weights made non-zero so the (1 + w)
// convention and the +1 of the GGUF export are both exercised. cappedModel() rescales one so
// that the soft-caps and the GELU variant decide the output, for the parity tests.
import { initParams, presetConfig, type Gemma2Config, type Gemma2Params } from "../../src/index.js";

export function randomModel(overrides: Partial<Gemma2Config> = {}, seed = 7): { config: Gemma2Config; params: Gemma2Params } {
  const config = { ...presetConfig("gemma2-tiny"), ...overrides };
  const params = initParams(config, seed);
  for (const [name, tensor] of params) {
    if (!name.endsWith("norm.weight")) continue;
    for (let i = 0; i < tensor.size; i++) tensor.data[i] = 0.3 * Math.sin(7.1 * i + name.length);
  }
  return { config, params };
}

/**
 * randomModel() (gemma2-tiny's widths) rescaled so that what a tame random model hides decides
 * the output, each within reach of a float32 comparison with llama.cpp (whose CPU GELU rounds
 * through an fp16 table, ~1e-3 relative):
 * - q_proj and k_proj x50: about a third of the attention scores exceed the attention cap (50);
 * - the embedding x25 and the final norm's gain x6: about a fifth of the logits exceed the final
 *   cap (30), while the top ones stay apart enough (> 0.01) to compare argmaxes;
 * - the post-attention norms' gain x6, so attention, not the current token's embedding, picks
 *   the top token at most positions;
 * - a constant hidden channel 0 (embedding column 0 = 4, dropped by the final norm) that gate_proj
 *   reads with weight -0.75, gate_proj x3.5 otherwise: the gate inputs sit around -4 +- 0.6, where
 *   the tanh GELU and the erf GELU differ by tens of percent (fp16 rounding stays ~0.4%);
 * - up_proj and down_proj x10, so the MLP output stays far above RMSNorm's eps, and the
 *   post-feedforward norms' gain x0.13, so the MLP (and llama.cpp's fp16 GELU noise) adds enough
 *   to show the GELU variant without drowning the comparison.
 * Tests measure the reach of the caps (float64Forward's pre-cap values) rather than trust this.
 */
export function cappedModel(overrides: Partial<Gemma2Config> = {}, seed = 7): { config: Gemma2Config; params: Gemma2Params } {
  const { config, params } = randomModel(overrides, seed);
  const d = config.hiddenSize;
  const tensor = (name: string) => params.get(name)!.data;
  const scale = (name: string, factor: number) => {
    const data = tensor(name);
    for (let i = 0; i < data.length; i++) data[i]! *= factor;
  };
  // Norm weights w act as 1 + w: scales the gain 1 + w.
  const scaleGain = (name: string, factor: number) => {
    const data = tensor(name);
    for (let i = 0; i < data.length; i++) data[i] = (1 + data[i]!) * factor - 1;
  };
  scale("model.embed_tokens.weight", 25);
  const embedding = tensor("model.embed_tokens.weight");
  for (let token = 0; token < config.vocabSize; token++) if (token !== config.padTokenId) embedding[token * d] = 4;
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const name = (part: string) => `model.layers.${layer}.${part}.weight`;
    scale(name("self_attn.q_proj"), 50);
    scale(name("self_attn.k_proj"), 50);
    scaleGain(name("post_attention_layernorm"), 6);
    scale(name("mlp.gate_proj"), 3.5);
    const gate = tensor(name("mlp.gate_proj"));
    for (let unit = 0; unit < config.intermediateSize; unit++) gate[unit * d] = -0.75;
    scale(name("mlp.up_proj"), 10);
    scale(name("mlp.down_proj"), 10);
    scaleGain(name("post_feedforward_layernorm"), 0.13);
  }
  scaleGain("model.norm.weight", 6);
  tensor("model.norm.weight")[0] = -1; // gain 0: the constant channel adds nothing to the logits
  return { config, params };
}

/** Token ids that start with <bos> and then wander over the vocabulary. */
export function sampleIds(length: number, vocabSize: number, seed = 11): number[] {
  return [2, ...Array.from({ length: length - 1 }, (_, i) => (i * 37 + seed) % vocabSize)];
}

/**
 * A model small enough for float64 finite differences over every tensor, with small caps so the
 * tanh soft-caps are exercised away from their linear region.
 */
export const tinyGradientConfig: Gemma2Config = {
  ...presetConfig("gemma2-tiny"),
  vocabSize: 48,
  hiddenSize: 16,
  intermediateSize: 24,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  headDim: 8,
  queryPreAttnScalar: 8,
  slidingWindow: 3,
  layerTypes: ["sliding_attention", "full_attention"],
  attnLogitSoftcapping: 2,
  finalLogitSoftcapping: 3,
};
