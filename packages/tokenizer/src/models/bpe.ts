// The BPE model of Hugging Face's tokenizers (models/bpe), as Gemma's tokenizer.json uses it:
// each piece starts as one symbol per character (a character missing from the vocabulary
// becomes its UTF-8 bytes, <0xNN>, with byte fallback, or <unk>), then merge rules apply by rank.
//
// Speed comes from one exact shortcut. Gemma has no pre-tokenizer, so a piece is a whole line of
// text. But a merge can only join two symbols if the merged token exists, and no merged token in
// the vocabulary contains 'X▁' for most characters X. So the piece is cut before every '▁' whose
// left neighbour never precedes '▁' inside a merged token; the cuts cannot change the result,
// and the resulting words repeat, so their ids are cached.
import { InvalidArgumentError, MalformedTokenizerFileError } from "../errors.js";
import type { TokenizerModel } from "../components.js";
import type { IdBuffer } from "../id-buffer.js";
import { checkLimit } from "../limits.js";
import { MergeTable } from "./merge-table.js";
import { WordMerger } from "./merge-word.js";

const SPACE_MARK = "\u2581";
const SPACE_MARK_CODE = 0x2581;
const CACHE_CAPACITY = 200_000;
const CACHEABLE_LENGTH = 256;

export interface BpeModelOptions {
  /** Token string for each id; `undefined` holes are ids the model never produces. */
  tokens: readonly (string | undefined)[];
  /** Merge rules in priority order (first merges first), as pairs of token strings. */
  merges: readonly (readonly [string, string])[];
  unkToken?: string | undefined;
  byteFallback?: boolean;
  fuseUnk?: boolean;
  /** Return a whole piece as one token when it is in the vocabulary, skipping the merges. */
  ignoreMerges?: boolean;
}

export class BpeModel implements TokenizerModel {
  readonly vocabSize: number;
  readonly byteFallback: boolean;
  readonly fuseUnk: boolean;
  readonly ignoreMerges: boolean;
  readonly unkId: number | undefined;
  readonly merges: readonly (readonly [string, string])[];
  private readonly tokens: readonly (string | undefined)[];
  private readonly vocab = new Map<string, number>();
  private readonly mergeTable: MergeTable;
  private readonly merger: WordMerger;
  /** Id of each BMP character that is a token by itself, or -1. */
  private readonly charIds = new Int32Array(65536).fill(-1);
  /** Id of each <0xNN> byte token, or -1. */
  private readonly byteIds = new Int32Array(256).fill(-1);
  /** Code units X for which some merged token contains 'X▁': never cut between X and '▁'. */
  private readonly joinsSpaceMark = new Uint8Array(65536);
  private readonly cutAtSpaceMarks: boolean;
  private readonly cache = new Map<string, Int32Array>();
  private symbols = new Int32Array(1024);

  constructor(options: BpeModelOptions) {
    // Before anything walks them: a sparse array of length 2^32 - 1 would take minutes to visit.
    checkLimit("vocabSize", "the number of token ids (model.vocab)", options.tokens.length);
    checkLimit("merges", "the number of merge rules (model.merges)", options.merges.length);
    this.tokens = options.tokens;
    this.merges = options.merges;
    this.vocabSize = options.tokens.length;
    this.byteFallback = options.byteFallback ?? false;
    this.fuseUnk = options.fuseUnk ?? false;
    this.ignoreMerges = options.ignoreMerges ?? false;
    options.tokens.forEach((token, id) => {
      if (token === undefined) return;
      if (!this.vocab.has(token)) this.vocab.set(token, id);
      if (token.length === 1) this.charIds[token.charCodeAt(0)] = id;
      const byte = parseByteToken(token);
      if (byte !== undefined) this.byteIds[byte] = id;
    });
    if (options.unkToken !== undefined) {
      this.unkId = this.vocab.get(options.unkToken);
      if (this.unkId === undefined) {
        throw new MalformedTokenizerFileError("model.unk_token", `'${options.unkToken}' is not in the vocabulary`);
      }
    }
    this.mergeTable = new MergeTable(options.merges.length);
    this.merger = new WordMerger(this.mergeTable);
    let mergesTouchNonCharacters = false;
    const { merges } = options;
    for (let rank = 0; rank < merges.length; rank++) {
      const [left, right] = merges[rank]!;
      const merged = left + right;
      const leftId = this.requireMergeToken(left, rank);
      const rightId = this.requireMergeToken(right, rank);
      this.mergeTable.set(leftId, rightId, rank, this.requireMergeToken(merged, rank));
      if (this.isByteOrUnk(leftId) || this.isByteOrUnk(rightId)) mergesTouchNonCharacters = true;
      for (let at = merged.indexOf(SPACE_MARK, 1); at > 0; at = merged.indexOf(SPACE_MARK, at + 1)) {
        this.joinsSpaceMark[merged.charCodeAt(at - 1)] = 1;
      }
    }
    this.joinsSpaceMark[SPACE_MARK_CODE] = 1;
    // The cut argument needs every merged token to be made of text characters: byte or unknown
    // tokens inside merges would let a merge span characters the argument cannot see.
    this.cutAtSpaceMarks = this.charIds[SPACE_MARK_CODE]! >= 0 && !mergesTouchNonCharacters;
  }

  private requireMergeToken(token: string, rank: number): number {
    const id = this.vocab.get(token);
    if (id === undefined) {
      throw new MalformedTokenizerFileError(`model.merges[${rank}]`, `token '${token}' is not in the vocabulary`);
    }
    return id;
  }

  private isByteOrUnk(id: number): boolean {
    return id === this.unkId || parseByteToken(this.tokens[id]!) !== undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  tokenize(piece: string, out: IdBuffer): void {
    if (piece.length === 0) return;
    if (this.ignoreMerges) {
      const id = this.vocab.get(piece);
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    if (!this.cutAtSpaceMarks) {
      this.tokenizeWord(piece, out);
      return;
    }
    let start = 0;
    for (let at = piece.indexOf(SPACE_MARK, 1); at > 0; at = piece.indexOf(SPACE_MARK, at + 1)) {
      if (this.joinsSpaceMark[piece.charCodeAt(at - 1)]) continue;
      this.tokenizeWord(piece.slice(start, at), out);
      start = at;
    }
    this.tokenizeWord(start === 0 ? piece : piece.slice(start), out);
  }

  private tokenizeWord(word: string, out: IdBuffer): void {
    const cacheable = word.length <= CACHEABLE_LENGTH;
    if (cacheable) {
      const hit = this.cache.get(word);
      if (hit) {
        out.pushAll(hit);
        return;
      }
    }
    const symbolCount = this.splitIntoSymbols(word); // may replace this.symbols with a larger buffer
    const length = this.merger.merge(this.symbols, symbolCount);
    const ids = this.symbols.subarray(0, length);
    if (cacheable) {
      if (this.cache.size >= CACHE_CAPACITY) this.cache.clear();
      this.cache.set(word, ids.slice());
    }
    out.pushAll(ids);
  }

  /** Writes the initial symbols of `word` into `this.symbols`; returns how many. */
  private splitIntoSymbols(word: string): number {
    // A character yields at most 4 byte symbols; UTF-16 length bounds the characters.
    if (this.symbols.length < word.length * 4) this.symbols = new Int32Array(word.length * 4);
    const symbols = this.symbols;
    let count = 0;
    let previousWasUnk = false;
    for (let i = 0; i < word.length; i++) {
      const unit = word.charCodeAt(i);
      let id: number;
      let end = i + 1;
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < word.length) {
        const low = word.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) end = i + 2;
      }
      id = end === i + 1 ? this.charIds[unit]! : (this.vocab.get(word.slice(i, end)) ?? -1);
      if (id >= 0) {
        symbols[count++] = id;
        previousWasUnk = false;
      } else if (this.byteFallback && this.writeByteSymbols(word, i, end, count)) {
        count += utf8Length(word, i, end);
        previousWasUnk = false;
      } else if (this.unkId !== undefined) {
        if (!(this.fuseUnk && previousWasUnk)) symbols[count++] = this.unkId;
        previousWasUnk = true;
      } else {
        throw new InvalidArgumentError("text", `character U+${word.codePointAt(i)!.toString(16)} is not in the vocabulary and the model has no byte fallback or unk token`);
      }
      i = end - 1;
    }
    return count;
  }

  /** Writes the <0xNN> ids of the UTF-8 bytes of word[start..end) at `at`; false if any is missing. */
  private writeByteSymbols(word: string, start: number, end: number, at: number): boolean {
    const codePoint = end - start === 2 ? word.codePointAt(start)! : word.charCodeAt(start);
    // A lone surrogate cannot be UTF-8 encoded; like TextEncoder, it becomes U+FFFD.
    const bytes = encodeCodePoint(codePoint >= 0xd800 && codePoint <= 0xdfff ? 0xfffd : codePoint);
    for (let k = 0; k < bytes.length; k++) {
      const id = this.byteIds[bytes[k]!]!;
      if (id < 0) return false;
      this.symbols[at + k] = id;
    }
    return true;
  }
}

/** The byte a `<0xNN>` token stands for, or undefined for any other token. */
export function parseByteToken(token: string): number | undefined {
  if (token.length !== 6 || !token.startsWith("<0x") || token[5] !== ">") return undefined;
  const value = Number.parseInt(token.slice(3, 5), 16);
  return Number.isNaN(value) || !/^[0-9A-Fa-f]{2}$/.test(token.slice(3, 5)) ? undefined : value;
}

function utf8Length(word: string, start: number, end: number): number {
  const codePoint = end - start === 2 ? word.codePointAt(start)! : word.charCodeAt(start);
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  return codePoint < 0x10000 ? 3 : 4;
}

function encodeCodePoint(codePoint: number): number[] {
  if (codePoint < 0x80) return [codePoint];
  if (codePoint < 0x800) return [0xc0 | (codePoint >> 6), 0x80 | (codePoint & 0x3f)];
  if (codePoint < 0x10000) {
    return [0xe0 | (codePoint >> 12), 0x80 | ((codePoint >> 6) & 0x3f), 0x80 | (codePoint & 0x3f)];
  }
  return [
    0xf0 | (codePoint >> 18),
    0x80 | ((codePoint >> 12) & 0x3f),
    0x80 | ((codePoint >> 6) & 0x3f),
    0x80 | (codePoint & 0x3f),
  ];
}
