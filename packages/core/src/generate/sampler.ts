// The sampler: picks the next token from one row of logits with a seeded Random it owns, so the
// same seed and request always give the same tokens (llama2.c's Sampler owns its RNG likewise).
// Log-probabilities are reported from the model's own distribution (before temperature and
// truncation), as OpenAI's logprobs are.
//
// It runs once per token per stream, so it is written for the serving loop: no allocation per
// token (one scratch row reused), and at temperature 1 without penalties or truncation a single
// pass of exponentials serves both the draw and the token's log-probability.
import { Random } from "../tensor/random.js";
import { applyPenalties, applyTemperatureAndTruncation, isTruncating, topIndices, type SamplingOptions } from "./logits-processors.js";

export interface SampledToken {
  token: number;
  /** log p(token) under the model's distribution. */
  logprob: number;
  /** The most likely alternatives, when asked for. */
  topLogprobs?: { token: number; logprob: number }[];
}

/**
 * Temperatures below this sample greedily (vLLM's _SAMPLING_EPS): logits / 1e-37 overflow to
 * Infinity, and the softmax of that is NaN, where greedy is the limit the caller means.
 */
export const GREEDY_BELOW = 1e-5;

export class Sampler {
  private readonly random: Random;
  private readonly penalized: boolean;
  private readonly reshaped: boolean;
  /** The processed logits (penalties, temperature, truncation) when they differ from the model's. */
  private working = new Float32Array(0);
  /** exp(logit - max) of the row being drawn from. */
  private weights = new Float64Array(0);

  constructor(
    readonly options: SamplingOptions & { seed?: number; topLogprobs?: number } = {},
  ) {
    this.random = new Random(options.seed ?? 0);
    const { repetitionPenalty = 1, frequencyPenalty = 0, presencePenalty = 0, temperature = 1 } = options;
    this.penalized = repetitionPenalty !== 1 || frequencyPenalty !== 0 || presencePenalty !== 0;
    this.reshaped = temperature !== 1 || isTruncating(options);
  }

  /**
   * Picks a token; `counts` holds how often each token occurred (for the penalties). `allowed`,
   * when a constraint narrowed the candidates, is `logits` with the excluded tokens at -Infinity:
   * the token is drawn from it, while the log-probabilities stay those of `logits`.
   */
  sample(logits: Float32Array, counts: ReadonlyMap<number, number> = new Map(), allowed?: Float32Array): SampledToken {
    const greedy = (this.options.temperature ?? 1) < GREEDY_BELOW;
    let row = allowed ?? logits;
    if (this.penalized || (this.reshaped && !greedy)) {
      if (this.working.length !== logits.length) this.working = new Float32Array(logits.length);
      this.working.set(row);
      row = this.working;
      applyPenalties(row, counts, this.options);
      if (!greedy) applyTemperatureAndTruncation(row, this.options);
    }
    let token: number;
    let modelLogSumExp: number;
    if (greedy) {
      token = argmax(row);
      modelLogSumExp = logSumExp(logits);
    } else {
      const drawn = this.draw(row);
      token = drawn.token;
      modelLogSumExp = row === logits ? drawn.logSumExp : logSumExp(logits);
    }
    const sampled: SampledToken = { token, logprob: logits[token]! - modelLogSumExp };
    const top = this.options.topLogprobs ?? 0;
    if (top > 0) sampled.topLogprobs = topIndices(logits, top).map((id) => ({ token: id, logprob: logits[id]! - modelLogSumExp }));
    return sampled;
  }

  /** Inverse-CDF draw from softmax(row); also returns log(sum(exp(row))). */
  private draw(row: Float32Array): { token: number; logSumExp: number } {
    if (this.weights.length !== row.length) this.weights = new Float64Array(row.length);
    const weights = this.weights;
    const max = maxOf(row);
    let total = 0;
    for (let i = 0; i < row.length; i++) {
      const weight = Math.exp(row[i]! - max);
      weights[i] = weight;
      total += weight;
    }
    const target = this.random.uniform() * total;
    let cumulative = 0;
    let token = 0;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i]! === 0) continue;
      cumulative += weights[i]!;
      token = i; // rounding may leave the sum a hair under the target: the last candidate then
      if (target < cumulative) break;
    }
    return { token, logSumExp: max + Math.log(total) };
  }
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

function maxOf(values: Float32Array): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) if (values[i]! > max) max = values[i]!;
  return max;
}

/** log(sum(exp(values))), stable. */
function logSumExp(values: Float32Array): number {
  const max = maxOf(values);
  let total = 0;
  for (let i = 0; i < values.length; i++) total += Math.exp(values[i]! - max);
  return max + Math.log(total);
}
