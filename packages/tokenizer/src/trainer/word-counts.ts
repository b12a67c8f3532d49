// The first pass of training: the corpus streams once into word -> count and character -> count
// tables; the text is never kept. Added tokens (specials, newline runs) are cut out first, as the
// tokenizer cuts them at encode time; then, as spm's SplitIntoWords (trainer_interface.cc), ' '
// becomes '▁' and each '▁' (each run of '▁' with whitespace-only pieces) starts a new word.
import { AddedVocabulary } from "../added-vocabulary.js";
import { InvalidArgumentError } from "../errors.js";

const SPACE_MARK = "\u2581";
const SPACE_MARK_CODE = 0x2581;

export interface WordCounterOptions {
  /** Text the tokenizer splits out before the model runs: never part of a word. */
  addedTokens: readonly string[];
  allowWhitespaceOnlyPieces: boolean;
  maxWords: number;
}

export class WordCounter {
  readonly words = new Map<string, number>();
  chunks = 0;
  /** Words dropped by pruning, with their counts: what the bound on memory cost. */
  droppedWords = 0;
  private readonly bmpChars = new Float64Array(65536);
  private readonly astralChars = new Map<number, number>();
  private readonly splitter: AddedVocabulary;
  private readonly allowWhitespaceOnlyPieces: boolean;
  private readonly maxWords: number;

  constructor(options: WordCounterOptions) {
    this.splitter = new AddedVocabulary(
      options.addedTokens.map((content, id) => ({
        id,
        content,
        special: true,
        normalized: false,
        lstrip: false,
        rstrip: false,
        singleWord: false,
      })),
    );
    this.allowWhitespaceOnlyPieces = options.allowWhitespaceOnlyPieces;
    this.maxWords = options.maxWords;
  }

  add(chunk: string): void {
    if (typeof chunk !== "string") {
      throw new InvalidArgumentError(`corpus[${this.chunks}]`, `expected a string, got ${typeof chunk}`);
    }
    this.chunks++;
    // Lone surrogates become U+FFFD, as they do when the tokenizer encodes.
    const text = chunk.isWellFormed() ? chunk : chunk.toWellFormed();
    for (const segment of this.splitter.splitRaw(text)) {
      if (segment.id === undefined && segment.text.length > 0) this.addSentence(segment.text);
    }
    if (this.words.size > this.maxWords) this.prune();
  }

  /** Characters with their counts, most frequent first, ties by code point (spm's Sorted()). */
  characterCounts(): [codePoint: number, count: number][] {
    const counts: [number, number][] = [];
    this.bmpChars.forEach((count, unit) => {
      if (count > 0) counts.push([unit, count]);
    });
    for (const entry of this.astralChars) counts.push(entry);
    return counts.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  }

  private addSentence(raw: string): void {
    const text = raw.replaceAll(" ", SPACE_MARK);
    this.countCharacters(text);
    const { words } = this;
    let start = 0;
    for (let at = text.indexOf(SPACE_MARK, 1); at > 0; at = text.indexOf(SPACE_MARK, at + 1)) {
      // With whitespace-only pieces a run of '▁' stays together, as the start of the next word.
      if (this.allowWhitespaceOnlyPieces && text.charCodeAt(at - 1) === SPACE_MARK_CODE) continue;
      const word = text.slice(start, at);
      words.set(word, (words.get(word) ?? 0) + 1);
      start = at;
    }
    const last = start === 0 ? text : text.slice(start);
    words.set(last, (words.get(last) ?? 0) + 1);
  }

  private countCharacters(text: string): void {
    const bmp = this.bmpChars;
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
        // The text is well formed, so a high surrogate is always followed by a low one.
        const codePoint = text.codePointAt(i)!;
        this.astralChars.set(codePoint, (this.astralChars.get(codePoint) ?? 0) + 1);
        i++;
      } else {
        bmp[unit]!++;
      }
    }
  }

  /**
   * Drops the rarest words until the table is back to 3/4 of its bound: first those seen once,
   * then twice, and so on. Like spm's input_sentence_size sampling, it trades exactness on the
   * long tail (which the last merges would see) for bounded memory.
   */
  private prune(): void {
    const target = Math.floor(this.maxWords * 0.75);
    for (let threshold = 1; this.words.size > target; threshold++) {
      for (const [word, count] of this.words) {
        if (count <= threshold) {
          this.words.delete(word);
          this.droppedWords++;
        }
      }
    }
  }
}
