// SentencePiece's BPE model (bpe_model.cc Model::SampleEncode, no dropout) plus the id mapping of
// sentencepiece_processor.cc PopulateSentencePieceText: characters (a user-defined symbol is one
// frozen symbol) merge pairwise, best piece score first, leftmost on ties; UNUSED pieces are split
// back (rev_merge); unknown symbols become <0xNN> bytes with byte_fallback, else one <unk> a run.
//
// Speed: as in bpe.ts, the text is cut before each '▁' whose left neighbour X never precedes '▁'
// inside a piece: no merge and no user-defined symbol can span such a cut (it would contain
// 'X▁'), the two sides merge independently, and the cut words repeat, so their ids are cached.
import type { TokenizerModel } from "../components.js";
import { MalformedTokenizerFileError } from "../errors.js";
import type { IdBuffer } from "../id-buffer.js";
import { PrefixMatcher } from "../normalizers/prefix-matcher.js";
import { parseByteToken } from "./bpe.js";

/** ModelProto.SentencePiece.Type. */
export const PieceType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
export type PieceType = (typeof PieceType)[keyof typeof PieceType];

export interface SentencePieceEntry {
  piece: string;
  score: number;
  type: PieceType;
}

export interface SentencePieceBpeOptions {
  pieces: readonly SentencePieceEntry[];
  byteFallback: boolean;
}

const SPACE_MARK = "\u2581";
const CACHE_CAPACITY = 200_000;
const CACHEABLE_LENGTH = 256;
const utf8 = new TextEncoder();

export class SentencePieceBpeModel implements TokenizerModel {
  readonly vocabSize: number;
  readonly unkId: number;
  readonly byteFallback: boolean;
  readonly pieces: readonly SentencePieceEntry[];
  /** ModelInterface::pieces_: the pieces BPE may produce (NORMAL, USER_DEFINED, UNUSED). */
  private readonly normalIds = new Map<string, number>();
  /** ModelInterface::reserved_id_map_: UNKNOWN, CONTROL and BYTE pieces. */
  private readonly reservedIds = new Map<string, number>();
  private readonly scores: Float64Array;
  private readonly unused: Uint8Array;
  private readonly hasUnused: boolean;
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly userDefined: PrefixMatcher | undefined;
  /** Code units X for which some piece contains 'X▁': never cut between X and '▁'. */
  private readonly joinsSpaceMark = new Uint8Array(65536);
  private readonly cache = new Map<string, Int32Array>();
  private readonly merger = new SymbolMerger();

  constructor(options: SentencePieceBpeOptions) {
    const { pieces } = options;
    this.pieces = pieces;
    this.vocabSize = pieces.length;
    this.byteFallback = options.byteFallback;
    this.scores = Float64Array.from(pieces, (entry) => entry.score);
    this.unused = Uint8Array.from(pieces, (entry) => (entry.type === PieceType.UNUSED ? 1 : 0));
    this.hasUnused = this.unused.includes(1);
    let unkId = -1;
    const userDefined: string[] = [];
    pieces.forEach(({ piece, type }, id) => {
      const where = `ModelProto.pieces[${id}]`;
      if (piece.length === 0) throw new MalformedTokenizerFileError(where, "empty piece");
      const normal = type === PieceType.NORMAL || type === PieceType.USER_DEFINED || type === PieceType.UNUSED;
      const map = normal ? this.normalIds : this.reservedIds;
      if (map.has(piece)) throw new MalformedTokenizerFileError(where, `piece '${piece}' is already defined`);
      map.set(piece, id);
      if (type === PieceType.USER_DEFINED) userDefined.push(piece);
      if (type === PieceType.UNKNOWN) {
        if (unkId >= 0) throw new MalformedTokenizerFileError(where, `a second unknown piece ('${piece}')`);
        unkId = id;
      }
      if (type === PieceType.BYTE) {
        if (!this.byteFallback) throw new MalformedTokenizerFileError(where, `byte piece '${piece}' although byte_fallback is false`);
        const byte = parseByteToken(piece);
        if (byte === undefined) throw new MalformedTokenizerFileError(where, `byte piece '${piece}' is not of the form <0xNN>`);
        this.byteIds[byte] = id;
      }
      if (normal) {
        for (let at = piece.indexOf(SPACE_MARK, 1); at > 0; at = piece.indexOf(SPACE_MARK, at + 1)) {
          this.joinsSpaceMark[piece.charCodeAt(at - 1)] = 1;
        }
      }
    });
    if (unkId < 0) throw new MalformedTokenizerFileError("ModelProto.pieces", "no piece of type UNKNOWN (<unk>)");
    if (this.byteFallback && this.byteIds.includes(-1)) {
      throw new MalformedTokenizerFileError("ModelProto.pieces", "byte_fallback is true but not all 256 byte pieces <0x00>..<0xFF> are present");
    }
    this.unkId = unkId;
    this.userDefined = userDefined.length > 0 ? PrefixMatcher.forUtf16(userDefined) : undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.reservedIds.get(token) ?? this.normalIds.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.pieces[id]?.piece;
  }

  tokenize(normalized: string, out: IdBuffer): void {
    if (normalized.length === 0) return;
    // rev_merge is filled over the whole text, so with UNUSED pieces a cut could change which
    // split an UNUSED piece is resegmented into: no cuts then.
    if (this.hasUnused) {
      this.pushFused(this.encodeWord(normalized), out, false);
      return;
    }
    let start = 0;
    let previousWasUnk = false;
    for (let at = normalized.indexOf(SPACE_MARK, 1); at > 0; at = normalized.indexOf(SPACE_MARK, at + 1)) {
      if (this.joinsSpaceMark[normalized.charCodeAt(at - 1)]) continue;
      previousWasUnk = this.pushFused(this.encodeWord(normalized.slice(start, at)), out, previousWasUnk);
      start = at;
    }
    this.pushFused(this.encodeWord(start === 0 ? normalized : normalized.slice(start)), out, previousWasUnk);
  }

  /**
   * Appends ids; without byte fallback a run of <unk> becomes one, across words too. Returns
   * whether the last id was <unk>.
   */
  private pushFused(ids: Int32Array, out: IdBuffer, previousWasUnk: boolean): boolean {
    if (this.byteFallback) {
      // Unknown symbols became bytes: no <unk> to fuse.
      out.pushAll(ids);
      return false;
    }
    let previous = previousWasUnk;
    for (let i = 0; i < ids.length; i++) {
      const isUnk = ids[i] === this.unkId;
      if (!(isUnk && previous)) out.push(ids[i]!);
      previous = isUnk;
    }
    return previous;
  }

  private encodeWord(word: string): Int32Array {
    const cacheable = word.length <= CACHEABLE_LENGTH;
    if (cacheable) {
      const hit = this.cache.get(word);
      if (hit) return hit;
    }
    const ids = this.merger.encode(word, this);
    if (cacheable) {
      if (this.cache.size >= CACHE_CAPACITY) this.cache.clear();
      this.cache.set(word, ids);
    }
    return ids;
  }

  /** Id of a piece the BPE may form, or -1. */
  normalId(piece: string): number {
    return this.normalIds.get(piece) ?? -1;
  }

  scoreOf(id: number): number {
    return this.scores[id]!;
  }

  isUnused(id: number): boolean {
    return this.unused[id] === 1;
  }

  /** Length of the user-defined symbol at text[start], or 0. */
  userDefinedAt(text: string, start: number): number {
    return this.userDefined ? this.userDefined.longestInString(text, start) : 0;
  }

  /** ModelInterface::PieceToId: reserved pieces first, then the others, else <unk>. */
  pieceToId(piece: string): number {
    return this.reservedIds.get(piece) ?? this.normalIds.get(piece) ?? this.unkId;
  }

  /** The ids of one final symbol: its id, or its bytes for an unknown symbol with byte fallback. */
  emit(piece: string, id: number, out: number[]): void {
    if (id !== this.unkId || !this.byteFallback) {
      out.push(id);
      return;
    }
    for (const byte of utf8.encode(piece)) out.push(this.byteIds[byte]!);
  }
}

/**
 * The merge loop of bpe_model.cc over one word, with its symbol list and agenda in reusable
 * typed arrays. Symbols are [start, end) ranges of the word; a merged-away symbol has start = end.
 */
class SymbolMerger {
  private starts = new Int32Array(256);
  private ends = new Int32Array(256);
  private prevs = new Int32Array(256);
  private nexts = new Int32Array(256);
  private frozen = new Uint8Array(256);
  private readonly agenda = new Agenda();

  encode(word: string, model: SentencePieceBpeModel): Int32Array {
    this.reserve(word.length);
    const { starts, ends, prevs, nexts, frozen, agenda } = this;
    let count = 0;
    for (let position = 0; position < word.length; ) {
      let length = model.userDefinedAt(word, position);
      frozen[count] = length > 0 ? 1 : 0;
      if (length === 0) length = isSurrogatePair(word, position) ? 2 : 1;
      starts[count] = position;
      ends[count] = position + length;
      prevs[count] = count - 1;
      nexts[count] = count + 1;
      position += length;
      count++;
    }
    nexts[count - 1] = -1;

    // rev_merge: merged UNUSED piece -> the two pieces it was made of (the last pair seen wins).
    const revMerge = new Map<string, [string, string]>();
    const maybeAddPair = (left: number, right: number): void => {
      if (left < 0 || right < 0 || frozen[left] || frozen[right]) return;
      const piece = word.slice(starts[left]!, ends[right]!);
      const id = model.normalId(piece);
      if (id < 0) return;
      agenda.push(left, right, model.scoreOf(id), piece.length);
      if (model.isUnused(id)) {
        revMerge.set(piece, [word.slice(starts[left]!, ends[left]!), word.slice(starts[right]!, ends[right]!)]);
      }
    };

    agenda.clear();
    for (let i = 1; i < count; i++) maybeAddPair(i - 1, i);
    while (agenda.length > 0) {
      agenda.pop();
      const left = agenda.topLeft;
      const right = agenda.topRight;
      const leftLength = ends[left]! - starts[left]!;
      const rightLength = ends[right]! - starts[right]!;
      // Stale: one side was merged away or has grown since the pair was queued.
      if (leftLength === 0 || rightLength === 0 || leftLength + rightLength !== agenda.topSize) continue;
      ends[left] = ends[right]!;
      const next = nexts[right]!;
      nexts[left] = next;
      if (next >= 0) prevs[next] = left;
      starts[right] = ends[right]!;
      maybeAddPair(prevs[left]!, left);
      maybeAddPair(left, nexts[left]!);
    }

    const ids: number[] = [];
    const resegment = (piece: string): void => {
      const id = model.pieceToId(piece);
      const split = model.isUnused(id) ? revMerge.get(piece) : undefined;
      if (!split) {
        model.emit(piece, id, ids);
        return;
      }
      resegment(split[0]);
      resegment(split[1]);
    };
    for (let index = 0; index !== -1; index = nexts[index]!) {
      resegment(word.slice(starts[index]!, ends[index]!));
    }
    return Int32Array.from(ids);
  }

  private reserve(length: number): void {
    if (this.starts.length >= length) return;
    let capacity = this.starts.length * 2;
    while (capacity < length) capacity *= 2;
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
    this.prevs = new Int32Array(capacity);
    this.nexts = new Int32Array(capacity);
    this.frozen = new Uint8Array(capacity);
  }
}

/**
 * bpe_model.cc's std::priority_queue of symbol pairs: highest score first, then leftmost. After
 * pop() the popped pair is in topLeft / topRight / topSize.
 */
class Agenda {
  private lefts = new Int32Array(256);
  private rights = new Int32Array(256);
  private sizes = new Int32Array(256);
  private scores = new Float64Array(256);
  length = 0;
  /** The pair pop() took off. */
  topLeft = 0;
  topRight = 0;
  topSize = 0;

  clear(): void {
    this.length = 0;
  }

  push(left: number, right: number, score: number, size: number): void {
    if (this.length === this.lefts.length) this.grow();
    let at = this.length++;
    // Sift up.
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.before(score, left, this.scores[parent]!, this.lefts[parent]!)) break;
      this.move(parent, at);
      at = parent;
    }
    this.set(at, left, right, score, size);
  }

  pop(): void {
    this.topLeft = this.lefts[0]!;
    this.topRight = this.rights[0]!;
    this.topSize = this.sizes[0]!;
    const last = --this.length;
    if (last === 0) return;
    const left = this.lefts[last]!;
    const right = this.rights[last]!;
    const score = this.scores[last]!;
    const size = this.sizes[last]!;
    // Sift the last entry down from the root.
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= last) break;
      const other = child + 1;
      if (other < last && this.before(this.scores[other]!, this.lefts[other]!, this.scores[child]!, this.lefts[child]!)) child = other;
      if (!this.before(this.scores[child]!, this.lefts[child]!, score, left)) break;
      this.move(child, at);
      at = child;
    }
    this.set(at, left, right, score, size);
  }

  private before(scoreA: number, leftA: number, scoreB: number, leftB: number): boolean {
    return scoreA > scoreB || (scoreA === scoreB && leftA < leftB);
  }

  private move(from: number, to: number): void {
    this.set(to, this.lefts[from]!, this.rights[from]!, this.scores[from]!, this.sizes[from]!);
  }

  private set(at: number, left: number, right: number, score: number, size: number): void {
    this.lefts[at] = left;
    this.rights[at] = right;
    this.scores[at] = score;
    this.sizes[at] = size;
  }

  private grow(): void {
    const capacity = this.lefts.length * 2;
    const lefts = new Int32Array(capacity);
    const rights = new Int32Array(capacity);
    const sizes = new Int32Array(capacity);
    const scores = new Float64Array(capacity);
    lefts.set(this.lefts);
    rights.set(this.rights);
    sizes.set(this.sizes);
    scores.set(this.scores);
    this.lefts = lefts;
    this.rights = rights;
    this.sizes = sizes;
    this.scores = scores;
  }
}

function isSurrogatePair(text: string, at: number): boolean {
  const high = text.charCodeAt(at);
  if (high < 0xd800 || high > 0xdbff || at + 1 >= text.length) return false;
  const low = text.charCodeAt(at + 1);
  return low >= 0xdc00 && low <= 0xdfff;
}
