// The sampler: picks the next token from one row of logits with a seeded Random it owns, so the
// same seed and request always give the same tokens (llama2.c's Sampler owns its RNG likewise).
// Log-probabilities are reported from the model's own distribution (before temperature and
// truncation), as OpenAI's logprobs are.
import { Random } from "../tensor/random.js";
import { applyPenalties, applyTemperatureAndTruncation, softmax, topIndices, type SamplingOptions } from "./logits-processors.js";

export interface SampledToken {
  token: number;
  /** log p(token) under the model's distribution. */
  logprob: number;
  /** The most likely alternatives, when asked for. */
  topLogprobs?: { token: number; logprob: number }[];
}

export class Sampler {
  private readonly random: Random;

  constructor(
    readonly options: SamplingOptions & { seed?: number; topLogprobs?: number } = {},
  ) {
    this.random = new Random(options.seed ?? 0);
  }

  /** Picks a token; `counts` holds how often each token occurred (for the penalties). */
  sample(logits: Float32Array, counts: ReadonlyMap<number, number> = new Map()): SampledToken {
    const modelLogprobs = logSoftmax(logits);
    const working = Float32Array.from(logits);
    applyPenalties(working, counts, this.options);
    let token: number;
    if ((this.options.temperature ?? 1) === 0) {
      token = argmax(working);
    } else {
      applyTemperatureAndTruncation(working, this.options);
      token = this.draw(softmax(working));
    }
    const sampled: SampledToken = { token, logprob: modelLogprobs[token]! };
    const top = this.options.topLogprobs ?? 0;
    if (top > 0) {
      sampled.topLogprobs = topIndices(modelLogprobs, top).map((id) => ({ token: id, logprob: modelLogprobs[id]! }));
    }
    return sampled;
  }

  private draw(probabilities: Float64Array): number {
    const target = this.random.uniform();
    let cumulative = 0;
    let last = 0;
    for (let i = 0; i < probabilities.length; i++) {
      if (probabilities[i]! === 0) continue;
      cumulative += probabilities[i]!;
      last = i;
      if (target < cumulative) return i;
    }
    return last; // rounding left the sum a hair under 1
  }
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

function logSoftmax(logits: Float32Array): Float64Array {
  const probabilities = softmax(logits);
  return probabilities.map((p) => Math.log(p));
}
