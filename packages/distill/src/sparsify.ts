// One position's next-token distribution, from the teacher's soft-capped logits, reduced to k
// entries (see teacher.ts for what the slots hold). Everything is computed in float64: the
// temperature divides the capped logits, then log-softmax by log-sum-exp.
//
// "sample" is the estimator of random-sampling KD (RSKD) and Gemma 3's pre-training: draw
// x_1..x_k ~ P (with replacement) and use the target P^(x) = count(x) / k. Each draw is an
// unbiased one-hot estimate of P, so E[P^(x)] = P(x) for every id, and for any student q the
// sparse loss -sum_x P^(x) log q(x) has expectation -sum_x P(x) log q(x), the full-distribution
// loss; the student keeps its full softmax (the weights already sum to 1, so "tail" and
// "renormalize" agree). A top-k target is biased instead: it drops the tail, or with renormalizing
// overweights the head.
import { InvalidArgumentError } from "./errors.js";
import { positionRandom } from "./position-random.js";
import type { SparseRequest, SparseScores } from "./teacher.js";

export function checkSparseRequest(request: SparseRequest, vocabSize: number): void {
  if (request.mode !== "top-k" && request.mode !== "sample") throw new InvalidArgumentError("mode", `expected "top-k" or "sample", got ${JSON.stringify(request.mode)}`);
  if (!Number.isInteger(request.k) || request.k < 1 || request.k > Math.min(vocabSize, 0xffff)) {
    throw new InvalidArgumentError("k", `expected an integer in [1, ${Math.min(vocabSize, 0xffff)}] (the vocabulary has ${vocabSize} ids), got ${request.k}`);
  }
  if (!(request.temperature > 0 && Number.isFinite(request.temperature))) throw new InvalidArgumentError("temperature", `expected a positive number, got ${request.temperature}`);
  if (!Number.isInteger(request.seed) || request.seed < 0 || request.seed > 0xffffffff) throw new InvalidArgumentError("seed", `expected an integer in [0, 2^32), got ${request.seed}`);
}

export function emptyScores(positions: number, k: number): SparseScores {
  return { k, positions, ids: new Int32Array(positions * k), logprobs: new Float32Array(positions * k), residual: new Float32Array(positions) };
}

/** Reduces logits rows of one vocabulary; holds float64 scratch space of a vocabulary's size. */
export class Sparsifier {
  private readonly scaled: Float64Array;
  private readonly cumulative: Float64Array;
  private readonly heapIds: Int32Array;
  private readonly heapValues: Float64Array;
  private readonly draws: Int32Array;

  constructor(
    readonly vocabSize: number,
    readonly request: SparseRequest,
  ) {
    checkSparseRequest(request, vocabSize);
    this.scaled = new Float64Array(vocabSize);
    this.cumulative = request.mode === "sample" ? new Float64Array(vocabSize) : new Float64Array(0);
    this.heapIds = new Int32Array(request.k);
    this.heapValues = new Float64Array(request.k);
    this.draws = new Int32Array(request.k);
  }

  /** Writes the entries of `logits` (one position, [V]) into slot row `index` of `out`. */
  reduce(logits: Float32Array, position: number, out: SparseScores, index: number): void {
    const { vocabSize: V, scaled } = this;
    const inverse = 1 / this.request.temperature;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < V; i++) {
      const value = logits[i]! * inverse;
      scaled[i] = value;
      if (value > max) max = value;
    }
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(scaled[i]! - max);
    const logZ = max + Math.log(sum);
    const k = this.request.k;
    const ids = out.ids.subarray(index * k, (index + 1) * k);
    const logprobs = out.logprobs.subarray(index * k, (index + 1) * k);
    let covered: number;
    let stored: number;
    if (this.request.mode === "top-k") {
      this.topK(ids);
      covered = 0;
      for (let j = 0; j < k; j++) {
        const logprob = scaled[ids[j]!]! - logZ;
        logprobs[j] = logprob;
        covered += Math.exp(logprob);
      }
      stored = k;
    } else {
      stored = this.sample(position, max, ids, logprobs);
      covered = 0;
      for (let j = 0; j < stored; j++) covered += Math.exp(scaled[ids[j]!]! - logZ);
    }
    fillUnused(ids, logprobs, stored);
    out.residual[index] = Math.min(1, Math.max(0, 1 - covered));
  }

  /** The k largest scaled values' ids, largest first, ties by smaller id (a min-heap of the k best). */
  private topK(into: Int32Array): void {
    const { scaled, heapIds, heapValues } = this;
    const k = this.request.k;
    // worse(a, b): a ranks below b.
    const worse = (a: number, b: number) => heapValues[a]! < heapValues[b]! || (heapValues[a] === heapValues[b] && heapIds[a]! > heapIds[b]!);
    const siftDown = (from: number, size: number) => {
      let at = from;
      for (;;) {
        const left = 2 * at + 1;
        if (left >= size) return;
        const right = left + 1;
        const child = right < size && worse(right, left) ? right : left;
        if (!worse(child, at)) return;
        swap(heapIds, heapValues, at, child);
        at = child;
      }
    };
    for (let i = 0; i < k; i++) {
      heapIds[i] = i;
      heapValues[i] = scaled[i]!;
    }
    for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i, k);
    for (let i = k; i < this.vocabSize; i++) {
      const value = scaled[i]!;
      // A later id ties below an earlier one, so only a strictly larger value enters.
      if (value > heapValues[0]!) {
        heapIds[0] = i;
        heapValues[0] = value;
        siftDown(0, k);
      }
    }
    // Pop the worst into the back: the result is best first.
    for (let size = k; size > 0; size--) {
      into[size - 1] = heapIds[0]!;
      swap(heapIds, heapValues, 0, size - 1);
      siftDown(0, size - 1);
    }
  }

  /** k draws from softmax(scaled); writes the distinct ids by count and log(count / k); returns how many. */
  private sample(position: number, max: number, ids: Int32Array, logprobs: Float32Array): number {
    const { scaled, cumulative, draws } = this;
    const V = this.vocabSize;
    const k = this.request.k;
    let total = 0;
    for (let i = 0; i < V; i++) {
      total += Math.exp(scaled[i]! - max);
      cumulative[i] = total;
    }
    const random = positionRandom(this.request.seed, position);
    for (let d = 0; d < k; d++) {
      const target = random.uniform() * total;
      // The first id whose cumulative mass exceeds the target (ids of zero mass are never hit).
      let low = 0;
      let high = V - 1;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (cumulative[middle]! > target) high = middle;
        else low = middle + 1;
      }
      draws[d] = low;
    }
    draws.sort();
    const distinct: { id: number; count: number }[] = [];
    for (let d = 0; d < k; ) {
      let end = d + 1;
      while (end < k && draws[end] === draws[d]) end++;
      distinct.push({ id: draws[d]!, count: end - d });
      d = end;
    }
    distinct.sort((a, b) => b.count - a.count || a.id - b.id);
    distinct.forEach(({ id, count }, j) => {
      ids[j] = id;
      logprobs[j] = Math.log(count / k);
    });
    return distinct.length;
  }
}

/** Unused slots: log-prob -Infinity and the smallest ids not stored, so a position's ids stay distinct. */
function fillUnused(ids: Int32Array, logprobs: Float32Array, stored: number): void {
  if (stored === ids.length) return;
  const taken = new Set(ids.subarray(0, stored));
  let candidate = 0;
  for (let j = stored; j < ids.length; j++) {
    while (taken.has(candidate)) candidate++;
    ids[j] = candidate++;
    logprobs[j] = Number.NEGATIVE_INFINITY;
  }
}

function swap(ids: Int32Array, values: Float64Array, a: number, b: number): void {
  const id = ids[a]!;
  ids[a] = ids[b]!;
  ids[b] = id;
  const value = values[a]!;
  values[a] = values[b]!;
  values[b] = value;
}
