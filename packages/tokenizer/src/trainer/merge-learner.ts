// The merge loop of SentencePiece's BPE trainer (bpe_model_trainer.cc) on a word -> count table:
// merge the best pair (order in pair-queue.ts) everywhere it occurs until the vocabulary is full.
// Where spm rescans a "top 5%" set of pairs, every pair count here is exact, updated around each
// merged occurrence through a pair -> words index, and a lazy max-heap finds the best pair.
import { PairQueue, type PairKeys } from "./pair-queue.js";
import { PieceTable, type PieceRuleOptions } from "./piece-rules.js";

/** Pair keys pack two symbol ids as left * 2^21 + right, exact in a double. */
const KEY_SCALE = 2 ** 21;
/** Marks a pair whose merged piece would be invalid, so it is tested only once. */
const INVALID_PAIR = -1;

export interface LearnedPiece {
  piece: string;
  /** The two pieces it was merged from. */
  left: string;
  right: string;
}

export interface MergeLearnerOptions extends PieceRuleOptions {
  /** Vocabulary characters, most frequent first; other characters block merges across them. */
  characters: readonly number[];
  /** How many merged pieces to learn at most. */
  targetMerges: number;
  minFrequency: number;
  /** Strings already in the vocabulary (special and byte tokens): never learned again. */
  reserved: ReadonlySet<string>;
  onMerge?: ((merges: number) => void) | undefined;
}

export function learnMerges(words: ReadonlyMap<string, number>, options: MergeLearnerOptions): LearnedPiece[] {
  return new MergeLearner(words, options).run();
}

class MergeLearner implements PairKeys {
  private readonly table: PieceTable;
  // Every word's symbols, one after another; a word shrinks in place as its symbols merge.
  private readonly symbols: Int32Array;
  private readonly wordStart: Int32Array;
  private readonly wordLength: Int32Array;
  private readonly wordCount: Float64Array;
  /** The merge step that last visited each word, to visit it once per step. */
  private readonly wordVisit: Int32Array;
  // Pairs, by pair index.
  private readonly pairIds = new Map<number, number>();
  private readonly pairLeft: number[] = [];
  private readonly pairRight: number[] = [];
  private readonly pairCount: number[] = [];
  /** Words that have held the pair (a superset: entries go stale as words change). */
  private readonly pairWords: (number[] | null)[] = [];
  /** Merged already, or a duplicate of a vocabulary string: never merged (again). */
  private readonly pairDone: boolean[] = [];
  private readonly pairPiece: string[] = [];
  private readonly pairLength: number[] = [];
  /** The merge step that last raised each pair's count. */
  private readonly pairRaised: number[] = [];
  private readonly raised: number[] = [];
  private readonly queue = new PairQueue(this);
  private step = 0;

  constructor(
    words: ReadonlyMap<string, number>,
    private readonly options: MergeLearnerOptions,
  ) {
    this.table = new PieceTable(options);
    const symbolOf = new Map<number, number>();
    for (const codePoint of options.characters) symbolOf.set(codePoint, this.table.addCharacter(codePoint));

    // Words of one character have no pairs and are left out.
    let units = 0;
    let wordTotal = 0;
    for (const word of words.keys()) {
      if (word.length > 1) {
        units += word.length;
        wordTotal++;
      }
    }
    this.symbols = new Int32Array(units);
    this.wordStart = new Int32Array(wordTotal);
    this.wordLength = new Int32Array(wordTotal);
    this.wordCount = new Float64Array(wordTotal);
    this.wordVisit = new Int32Array(wordTotal);
    let at = 0;
    let w = 0;
    for (const [word, count] of words) {
      if (word.length <= 1) continue;
      this.wordStart[w] = at;
      for (const char of word) this.symbols[at++] = symbolOf.get(char.codePointAt(0)!) ?? -1;
      this.wordLength[w] = at - this.wordStart[w]!;
      this.wordCount[w] = count;
      w++;
    }
    this.countInitialPairs();
  }

  pieceLength(pair: number): number {
    return this.pairLength[pair]!;
  }

  piece(pair: number): string {
    return this.pairPiece[pair]!;
  }

  run(): LearnedPiece[] {
    const { options, table } = this;
    const learned: LearnedPiece[] = [];
    const known = new Set(options.reserved);
    for (const piece of table.strings) known.add(piece);
    while (learned.length < options.targetMerges) {
      const pair = this.popBest();
      if (pair < 0 || this.pairCount[pair]! < options.minFrequency) break;
      const piece = this.pairPiece[pair]!;
      if (known.has(piece)) {
        // The same piece again by another path ("aa"+"a" after "a"+"aa"): spm drops the pair.
        this.retire(pair);
        continue;
      }
      known.add(piece);
      const left = this.pairLeft[pair]!;
      const right = this.pairRight[pair]!;
      learned.push({ piece, left: table.strings[left]!, right: table.strings[right]! });
      this.merge(pair, table.addMerged(left, right));
      options.onMerge?.(learned.length);
    }
    return learned;
  }

  private countInitialPairs(): void {
    const { symbols, wordStart, wordLength, wordCount } = this;
    for (let w = 0; w < wordStart.length; w++) {
      const start = wordStart[w]!;
      const end = start + wordLength[w]!;
      const count = wordCount[w]!;
      for (let i = start; i + 1 < end; i++) this.raise(symbols[i]!, symbols[i + 1]!, count, w);
    }
    for (let pair = 0; pair < this.pairCount.length; pair++) {
      if (this.pairCount[pair]! > 0) this.queue.push(pair, this.pairCount[pair]!);
    }
    this.raised.length = 0;
  }

  /** The pair to merge next, or -1 when none is left. Stale queue entries are re-queued. */
  private popBest(): number {
    const { queue } = this;
    while (queue.size > 0) {
      const pair = queue.peekPair();
      const queued = queue.peekCount();
      queue.pop();
      if (this.pairDone[pair]) continue;
      const count = this.pairCount[pair]!;
      if (count === queued) return pair;
      if (count > 0) queue.push(pair, count);
    }
    return -1;
  }

  private retire(pair: number): void {
    this.pairDone[pair] = true;
    this.pairWords[pair] = null;
  }

  /** Replaces every occurrence of `pair` by `merged`, updating the counts of neighbouring pairs. */
  private merge(pair: number, merged: number): void {
    const a = this.pairLeft[pair]!;
    const b = this.pairRight[pair]!;
    const words = this.pairWords[pair] ?? [];
    this.retire(pair);
    this.pairCount[pair] = 0;
    const step = ++this.step;
    const { symbols, wordStart, wordLength, wordCount, wordVisit } = this;
    for (const w of words) {
      if (wordVisit[w] === step) continue;
      wordVisit[w] = step;
      const start = wordStart[w]!;
      const end = start + wordLength[w]!;
      const count = wordCount[w]!;
      // Left to right, as spm and Hugging Face do: in "a a a", (a, a) merges at the first two.
      let out = start;
      for (let i = start; i < end; ) {
        if (i + 1 < end && symbols[i] === a && symbols[i + 1] === b) {
          if (out > start) {
            const previous = symbols[out - 1]!;
            this.lower(previous, a, count);
            this.raise(previous, merged, count, w);
          }
          if (i + 2 < end) {
            const next = symbols[i + 2]!;
            this.lower(b, next, count);
            this.raise(merged, next, count, w);
          }
          symbols[out++] = merged;
          i += 2;
        } else {
          symbols[out++] = symbols[i++]!;
        }
      }
      wordLength[w] = out - start;
    }
    // Only pairs with the new symbol gained occurrences; every other count fell or stayed.
    for (const raisedPair of this.raised) {
      const count = this.pairCount[raisedPair]!;
      if (count > 0 && !this.pairDone[raisedPair]) this.queue.push(raisedPair, count);
    }
    this.raised.length = 0;
  }

  private raise(left: number, right: number, count: number, word: number): void {
    if (left < 0 || right < 0) return;
    const key = left * KEY_SCALE + right;
    let pair = this.pairIds.get(key);
    if (pair === undefined) pair = this.addPair(key, left, right);
    if (pair === INVALID_PAIR || this.pairDone[pair]) return;
    this.pairCount[pair]! += count;
    let list = this.pairWords[pair];
    if (!list) this.pairWords[pair] = list = [];
    if (list[list.length - 1] !== word) list.push(word);
    if (this.pairRaised[pair] !== this.step) {
      this.pairRaised[pair] = this.step;
      this.raised.push(pair);
    }
  }

  private lower(left: number, right: number, count: number): void {
    if (left < 0 || right < 0) return;
    const pair = this.pairIds.get(left * KEY_SCALE + right);
    if (pair === undefined || pair === INVALID_PAIR || this.pairDone[pair]) return;
    const remaining = this.pairCount[pair]! - count;
    this.pairCount[pair] = remaining;
    // No word holds the pair any more; its word list is garbage.
    if (remaining <= 0) this.pairWords[pair] = null;
  }

  private addPair(key: number, left: number, right: number): number {
    if (!this.table.canMerge(left, right)) {
      this.pairIds.set(key, INVALID_PAIR);
      return INVALID_PAIR;
    }
    const pair = this.pairLeft.length;
    this.pairIds.set(key, pair);
    this.pairLeft.push(left);
    this.pairRight.push(right);
    this.pairCount.push(0);
    this.pairWords.push(null);
    this.pairDone.push(false);
    this.pairPiece.push(this.table.strings[left]! + this.table.strings[right]!);
    this.pairLength.push(this.table.length(left) + this.table.length(right));
    this.pairRaised.push(-1);
    return pair;
  }
}
