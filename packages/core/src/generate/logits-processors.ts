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

/** Whether top-k, top-p or min-p can mask anything out (of a row of `vocabSize`, when known). */
export function isTruncating(options: SamplingOptions, vocabSize = Number.POSITIVE_INFINITY): boolean {
  const { topK, topP, minP } = options;
  return (topK !== undefined && topK > 0 && topK < vocabSize) || (topP !== undefined && topP < 1) || (minP !== undefined && minP > 0);
}

/** Divides by the temperature, then masks what top-k, top-p and min-p exclude. In place. */
export function applyTemperatureAndTruncation(logits: Float32Array, options: SamplingOptions): void {
  const temperature = options.temperature ?? 1;
  if (temperature !== 1) for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / temperature;
  const { topK, topP, minP } = options;
  if (!isTruncating(options, logits.length)) return;
  // Only the top-k candidates need ordering: a full sort of a 256k vocabulary per token is ~50 ms.
  const order = topIndices(logits, topK !== undefined && topK > 0 ? topK : logits.length);
  const probabilities = softmax(logits);
  let keep = order.length;
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
  const kept = new Uint8Array(logits.length);
  for (let rank = 0; rank < keep; rank++) kept[order[rank]!] = 1;
  for (let i = 0; i < logits.length; i++) if (!kept[i]) logits[i] = Number.NEGATIVE_INFINITY;
}

/**
 * The indices of the k largest values, largest first, ties by smaller index (a total order, so
 * the result equals the first k of a full sort). Selects the k-th largest value first, then sorts
 * only the values at or above it.
 */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const count = Math.min(k, values.length);
  if (count <= 0) return [];
  const byRank = (a: number, b: number) => values[b]! - values[a]! || a - b;
  if (count * 4 >= values.length) return Array.from({ length: values.length }, (_, i) => i).sort(byRank).slice(0, count);
  const threshold = kthLargest(Float64Array.from(values), count);
  const candidates: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i]! >= threshold) candidates.push(i);
  return candidates.sort(byRank).slice(0, count);
}

/** Quickselect (Hoare partition) for the k-th largest value, 1-based; reorders `values`. */
function kthLargest(values: Float64Array, k: number): number {
  let low = 0;
  let high = values.length - 1;
  const target = k - 1; // index in descending order
  while (low < high) {
    const pivot = values[(low + high) >> 1]!;
    let i = low;
    let j = high;
    while (i <= j) {
      while (values[i]! > pivot) i++;
      while (values[j]! < pivot) j--;
      if (i <= j) {
        const swap = values[i]!;
        values[i] = values[j]!;
        values[j] = swap;
        i++;
        j--;
      }
    }
    if (target <= j) high = j;
    else if (target >= i) low = i;
    else return values[target]!;
  }
  return values[target]!;
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
