// A random gemma2-tiny whose soft-caps decide its output: q_proj and k_proj scaled (x16) so that
// attention scores pass the attention cap (50) (without the cap the logits move by 0.66),
// the embedding and the final norm's gain scaled so a fifth of the logits pass the final cap (30). Norm weights are made non-zero, so the (1 + w)
// convention matters. Tests measure how often the caps engage rather than trust this.
import { type Gemma2Config, type Gemma2Params, initParams, presetConfig } from "@gemma-ts/core";

export function cappedModel(seed = 7): { config: Gemma2Config; params: Gemma2Params } {
  const config = presetConfig("gemma2-tiny");
  const params = initParams(config, seed);
  for (const [name, tensor] of params) {
    if (name.endsWith("norm.weight")) for (let i = 0; i < tensor.size; i++) tensor.data[i] = 0.3 * Math.sin(7.1 * i + name.length);
  }
  const scale = (name: string, factor: number) => {
    const data = params.get(name)!.data;
    for (let i = 0; i < data.length; i++) data[i]! *= factor;
  };
  scale("model.embed_tokens.weight", 25);
  const finalNorm = params.get("model.norm.weight")!.data;
  for (let i = 0; i < finalNorm.length; i++) finalNorm[i] = (1 + finalNorm[i]!) * 6 - 1;
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    scale(`model.layers.${layer}.self_attn.q_proj.weight`, 16);
    scale(`model.layers.${layer}.self_attn.k_proj.weight`, 16);
  }
  return { config, params };
}
