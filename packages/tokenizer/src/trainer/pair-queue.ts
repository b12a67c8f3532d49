// The trainer's priority queue of symbol pairs: a binary max-heap on SentencePiece's order for
// picking the next merge (bpe_model_trainer.cc): higher frequency first, then the shorter piece,
// then the smaller piece in UTF-8 byte order. Entries carry the count they were queued with;
// counts only ever fall after a pair is queued, so the trainer can fix stale entries lazily.

/** What the queue needs to know about a pair to break ties. */
export interface PairKeys {
  /** Length of the merged piece, in characters. */
  pieceLength(pair: number): number;
  piece(pair: number): string;
}

export class PairQueue {
  private pairs = new Int32Array(1024);
  private counts = new Float64Array(1024);
  size = 0;

  constructor(private readonly keys: PairKeys) {}

  push(pair: number, count: number): void {
    if (this.size === this.pairs.length) this.grow();
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(pair, count, this.pairs[parent]!, this.counts[parent]!)) break;
      this.pairs[i] = this.pairs[parent]!;
      this.counts[i] = this.counts[parent]!;
      i = parent;
    }
    this.pairs[i] = pair;
    this.counts[i] = count;
  }

  /** The pair at the top, and the count it was queued with. */
  peekPair(): number {
    return this.pairs[0]!;
  }

  peekCount(): number {
    return this.counts[0]!;
  }

  pop(): void {
    const last = --this.size;
    if (last === 0) return;
    const pair = this.pairs[last]!;
    const count = this.counts[last]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && this.before(this.pairs[child + 1]!, this.counts[child + 1]!, this.pairs[child]!, this.counts[child]!)) {
        child++;
      }
      if (!this.before(this.pairs[child]!, this.counts[child]!, pair, count)) break;
      this.pairs[i] = this.pairs[child]!;
      this.counts[i] = this.counts[child]!;
      i = child;
    }
    this.pairs[i] = pair;
    this.counts[i] = count;
  }

  /** Whether pair a (queued with count ca) comes out before pair b. */
  private before(a: number, ca: number, b: number, cb: number): boolean {
    if (ca !== cb) return ca > cb;
    const la = this.keys.pieceLength(a);
    const lb = this.keys.pieceLength(b);
    if (la !== lb) return la < lb;
    return compareCodePoints(this.keys.piece(a), this.keys.piece(b)) < 0;
  }

  private grow(): void {
    const pairs = new Int32Array(this.pairs.length * 2);
    pairs.set(this.pairs);
    this.pairs = pairs;
    const counts = new Float64Array(this.counts.length * 2);
    counts.set(this.counts);
    this.counts = counts;
  }
}

/**
 * Compares strings by code point, which is UTF-8 byte order (C++ std::string's `<` in spm).
 * JavaScript's `<` compares UTF-16 code units, which puts U+E000..U+FFFF after astral characters.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (astral characters) move above U+E000..U+FFFF; that range moves down to fill.
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}
