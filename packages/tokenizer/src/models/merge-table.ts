// The BPE merge rules as an open-addressing hash table keyed by the pair of token ids:
// (left, right) -> (rank, merged id). Typed arrays instead of a Map<string, ...> keep the 580k
// rules of Gemma's vocabulary in ~30 MB with no per-entry objects, and a lookup is a few
// integer operations.

const EMPTY = -1;

export class MergeTable {
  private readonly lefts: Int32Array;
  private readonly rights: Int32Array;
  /** Position of the rule in the merges list: lower ranks merge first. */
  readonly ranks: Int32Array;
  /** Id of the token the pair merges into. */
  readonly results: Int32Array;
  private readonly mask: number;
  size = 0;

  constructor(expectedRules: number) {
    let capacity = 16;
    while (capacity < expectedRules * 2) capacity *= 2;
    this.lefts = new Int32Array(capacity).fill(EMPTY);
    this.rights = new Int32Array(capacity);
    this.ranks = new Int32Array(capacity);
    this.results = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  /** Adds a rule; a pair listed twice keeps its last rank, as Hugging Face's HashMap collect does. */
  set(left: number, right: number, rank: number, result: number): void {
    let slot = this.hash(left, right);
    while (this.lefts[slot] !== EMPTY) {
      if (this.lefts[slot] === left && this.rights[slot] === right) break;
      slot = (slot + 1) & this.mask;
    }
    if (this.lefts[slot] === EMPTY) this.size++;
    this.lefts[slot] = left;
    this.rights[slot] = right;
    this.ranks[slot] = rank;
    this.results[slot] = result;
  }

  /** The slot holding the rule for (left, right), or -1 when the pair never merges. */
  find(left: number, right: number): number {
    let slot = this.hash(left, right);
    for (;;) {
      const stored = this.lefts[slot]!;
      if (stored === EMPTY) return -1;
      if (stored === left && this.rights[slot] === right) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  private hash(left: number, right: number): number {
    let h = Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    return h & this.mask;
  }
}
