// A random Gemma 2 for tests: seeded weights, and norm weights made non-zero so the (1 + w)
// convention and the +1 of the GGUF export are both exercised.
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

/** Token ids that start with <bos> and then wander over the vocabulary. */
export function sampleIds(length: number, vocabSize: number, seed = 11): number[] {
  return [2, ...Array.from({ length: length - 1 }, (_, i) => (i * 37 + seed) % vocabSize)];
}
