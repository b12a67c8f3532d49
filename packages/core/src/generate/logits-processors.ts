// Logits processors, each a pure step over one row of logits, in the order Hugging Face's
// generate applies them: penalties on the raw logits first, then temperature, then the
// truncations (top-k, top-p, min-p) that mask tokens out with -Infinity.

export interface SamplingOptions {
  /** 0 (or undefined with no other option) means greedy. Default 1. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  /** Hugging Face's: logits of tokens already present are divided (if > 0) or multiplied by it. */
  repetitionPenalty?: number;
  /** OpenAI's: logit -= frequencyPenalty * count + presencePenalty * (count > 0). */
  frequencyPenalty?: number;
  presencePenalty?: number;
}

/** Applies the penalties in place, given how often each token occurred so far. */
export function applyPenalties(logits: Float32Array, counts: ReadonlyMap<number, number>, options: SamplingOptions): void {
  const repetition = options.repetitionPenalty ?? 1;
  const frequency = options.frequencyPenalty ?? 0;
  const presence = options.presencePenalty ?? 0;
  if (repetition === 1 && frequency === 0 && presence === 0) return;
  for (const [token, count] of counts) {
    let value = logits[token]!;
    if (repetition !== 1) value = value > 0 ? value / repetition : value * repetition;
    value -= frequency * count + (count > 0 ? presence : 0);
    logits[token] = value;
  }
}

/** Divides by the temperature, then masks what top-k, top-p and min-p exclude. In place. */
export function applyTemperatureAndTruncation(logits: Float32Array, options: SamplingOptions): void {
  const temperature = options.temperature ?? 1;
  if (temperature !== 1) for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / temperature;
  const { topK, topP, minP } = options;
  const truncating = (topK !== undefined && topK > 0 && topK < logits.length) || (topP !== undefined && topP < 1) || (minP !== undefined && minP > 0);
  if (!truncating) return;
  const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const probabilities = softmax(logits);
  let keep = order.length;
  if (topK !== undefined && topK > 0) keep = Math.min(keep, topK);
  if (topP !== undefined && topP < 1) {
    let cumulative = 0;
    for (let rank = 0; rank < keep; rank++) {
      cumulative += probabilities[order[rank]!]!;
      if (cumulative >= topP) {
        keep = rank + 1;
        break;
      }
    }
  }
  if (minP !== undefined && minP > 0) {
    const threshold = minP * probabilities[order[0]!]!;
    let rank = 1;
    while (rank < keep && probabilities[order[rank]!]! >= threshold) rank++;
    keep = rank;
  }
  for (let rank = keep; rank < order.length; rank++) logits[order[rank]!] = Number.NEGATIVE_INFINITY;
}

/** A numerically stable softmax of one row (float64 sums). */
export function softmax(logits: Float32Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of logits) if (value > max) max = value;
  const out = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    const value = Math.exp(logits[i]! - max);
    out[i] = value;
    total += value;
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / total;
  return out;
}
