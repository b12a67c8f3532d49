// Applies BPE merge rules to one word of token ids, with the semantics of Hugging Face's
// Word::merge_all: repeatedly merge the adjacent pair with the lowest rank, the leftmost one
// when ranks tie, until no adjacent pair has a rule. Short words (the common case once text is
// cut at word boundaries) use a linear scan; long ones a binary heap, so a megabyte-long word
// (Gemma has no pre-tokenizer) stays O(n log n).
import type { MergeTable } from "./merge-table.js";

const NO_RULE = 0x7fffffff;
const SCAN_LIMIT = 64;

export class WordMerger {
  // Scratch for the scan path: the rule slot and rank of the pair (ids[i], ids[i + 1]).
  private readonly pairSlots = new Int32Array(SCAN_LIMIT);
  private readonly pairRanks = new Int32Array(SCAN_LIMIT);

  constructor(private readonly merges: MergeTable) {}

  /** Merges `ids[0..length)` in place; returns the new length. */
  merge(ids: Int32Array, length: number): number {
    if (length < 2) return length;
    return length <= SCAN_LIMIT ? this.mergeByScan(ids, length) : this.mergeByHeap(ids, length);
  }

  private mergeByScan(ids: Int32Array, length: number): number {
    const { pairSlots, pairRanks } = this;
    const results = this.merges.results;
    for (let i = 0; i + 1 < length; i++) this.updatePair(ids, i);
    for (;;) {
      let best = -1;
      let bestRank = NO_RULE;
      for (let i = 0; i + 1 < length; i++) {
        if (pairRanks[i]! < bestRank) {
          bestRank = pairRanks[i]!;
          best = i;
        }
      }
      if (best < 0) return length;
      ids[best] = results[pairSlots[best]!]!;
      // Drop the right symbol of the merged pair and the pair entry that started at it.
      ids.copyWithin(best + 1, best + 2, length);
      pairRanks.copyWithin(best + 1, best + 2, length - 1);
      pairSlots.copyWithin(best + 1, best + 2, length - 1);
      length--;
      if (best > 0) this.updatePair(ids, best - 1);
      if (best + 1 < length) this.updatePair(ids, best);
    }
  }

  private updatePair(ids: Int32Array, i: number): void {
    const slot = this.merges.find(ids[i]!, ids[i + 1]!);
    this.pairSlots[i] = slot;
    this.pairRanks[i] = slot < 0 ? NO_RULE : this.merges.ranks[slot]!;
  }

  private mergeByHeap(ids: Int32Array, length: number): number {
    const { merges } = this;
    const { ranks, results } = merges;
    // Symbols form a doubly linked list over the original positions; merged-away ones are dead.
    const next = new Int32Array(length);
    const prev = new Int32Array(length);
    const alive = new Uint8Array(length).fill(1);
    for (let i = 0; i < length; i++) {
      next[i] = i + 1 < length ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const queue = new MergeQueue(length);
    const enqueue = (position: number, right: number): void => {
      const slot = merges.find(ids[position]!, ids[right]!);
      if (slot >= 0) queue.push(ranks[slot]!, position);
    };
    for (let i = 0; i + 1 < length; i++) enqueue(i, i + 1);
    while (queue.size > 0) {
      const { rank, position } = queue.pop();
      const right = next[position]!;
      if (!alive[position] || right < 0) continue;
      const slot = merges.find(ids[position]!, ids[right]!);
      // A stale entry: the pair at this position changed since it was queued.
      if (slot < 0 || ranks[slot] !== rank) continue;
      ids[position] = results[slot]!;
      alive[right] = 0;
      const after = next[right]!;
      next[position] = after;
      if (after >= 0) prev[after] = position;
      const before = prev[position]!;
      if (before >= 0) enqueue(before, position);
      if (after >= 0) enqueue(position, after);
    }
    let out = 0;
    for (let i = 0; i >= 0; i = next[i]!) ids[out++] = ids[i]!;
    return out;
  }
}

/** Min-heap of candidate merges ordered by (rank, position). */
class MergeQueue {
  // Both fields packed in one float: rank * 2^32 + position is exact below 2^53.
  private keys: Float64Array;
  size = 0;
  private readonly popped = { rank: 0, position: 0 };

  constructor(capacity: number) {
    this.keys = new Float64Array(Math.max(capacity, 16));
  }

  push(rank: number, position: number): void {
    if (this.size === this.keys.length) {
      const grown = new Float64Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    const key = rank * 4294967296 + position;
    const keys = this.keys;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      i = parent;
    }
    keys[i] = key;
  }

  /** Removes the smallest entry. The returned object is reused by the next call. */
  pop(): { rank: number; position: number } {
    const keys = this.keys;
    const top = keys[0]!;
    const last = keys[--this.size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && keys[child + 1]! < keys[child]!) child++;
      if (keys[child]! >= last) break;
      keys[i] = keys[child]!;
      i = child;
    }
    keys[i] = last;
    this.popped.rank = Math.floor(top / 4294967296);
    this.popped.position = top % 4294967296;
    return this.popped;
  }
}
