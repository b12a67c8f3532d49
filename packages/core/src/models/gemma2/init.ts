// Deterministic initialisation from a seed, as Hugging Face's Gemma2PreTrainedModel does:
// linear and embedding weights ~ N(0, initializer_range), the padding row of the embedding zero,
// norm weights zero (the model multiplies by 1 + w, so zero means identity).
import { HostTensor } from "../../tensor/host-tensor.js";
import { Random } from "../../tensor/random.js";
import type { Gemma2Config } from "./config.js";
import { parameterSpecs, type Gemma2Params } from "./params.js";

export function initParams(config: Gemma2Config, seed: number): Gemma2Params {
  const random = new Random(seed);
  const params: Gemma2Params = new Map();
  for (const spec of parameterSpecs(config)) {
    const tensor = HostTensor.float32(spec.shape);
    if (spec.kind !== "norm") {
      const data = tensor.data;
      for (let i = 0; i < data.length; i++) data[i] = random.normal() * config.initializerRange;
    }
    if (spec.kind === "embedding") tensor.data.fill(0, config.padTokenId * config.hiddenSize, (config.padTokenId + 1) * config.hiddenSize);
    params.set(spec.name, tensor);
  }
  return params;
}
