// The bytes each token id stands for, which is what streaming text and the JSON constraint both
// work on: a byte-fallback token <0xNN> is one raw byte (half a character, maybe), any other token
// is the UTF-8 of its decoded piece, a special token (<eos>, <start_of_turn> ...) is no text at all.
// With Gemma's decoder chain (Replace '▁', ByteFallback, Fuse) the text of a sequence is the UTF-8
// decoding of its tokens' bytes concatenated. Built lazily: a 256k vocabulary costs ~0.2 s in full.
import type { Tokenizer } from "@gemma-ts/tokenizer";

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const EMPTY = new Uint8Array(0);

/** Token ids in byte order with the common-prefix length of neighbours: a trie, flattened. */
export interface SortedVocabulary {
  ids: Int32Array;
  /** lcp[i]: bytes token i shares with token i - 1 (0 for i = 0). */
  lcp: Int32Array;
  bytes: readonly Uint8Array[];
}

export class TokenVocabulary {
  /** Ids the model can produce (its vocabulary may be padded past the tokenizer's). */
  readonly size: number;
  private readonly cache: (Uint8Array | undefined)[];
  private readonly special: Uint8Array;
  private sortedCache: SortedVocabulary | undefined;
  private singleCache: Set<number> | undefined;
  private readonly encoder = new TextEncoder();

  constructor(
    readonly tokenizer: Tokenizer,
    modelVocabSize: number,
  ) {
    this.size = modelVocabSize;
    this.cache = new Array<Uint8Array | undefined>(modelVocabSize);
    // 0: unknown yet, 1: text token, 2: special or no token (never text).
    this.special = new Uint8Array(modelVocabSize);
  }

  /** The bytes id adds to the text; empty for special tokens and ids the tokenizer lacks. */
  bytes(id: number): Uint8Array {
    let bytes = this.cache[id];
    if (bytes === undefined) {
      bytes = this.compute(id);
      this.cache[id] = bytes;
    }
    return bytes;
  }

  /** Special tokens and ids without a token: they never add text. */
  isSpecial(id: number): boolean {
    this.bytes(id);
    return this.special[id] === 2;
  }

  /** The token as logprobs show it: its text, or "bytes:\xNN" for a byte that is no character alone. */
  display(id: number): { token: string; bytes: number[] } {
    if (this.isSpecial(id)) {
      const token = this.tokenizer.idToToken(id) ?? "";
      return { token, bytes: Array.from(this.encoder.encode(token)) };
    }
    const bytes = this.bytes(id);
    const byte = this.byteOf(id);
    if (byte !== undefined && byte >= 0x80) return { token: `bytes:\\x${byte.toString(16).padStart(2, "0")}`, bytes: [byte] };
    return { token: new TextDecoder().decode(bytes), bytes: Array.from(bytes) };
  }

  /** The bytes that some token stands for alone (one-byte tokens). */
  singleBytes(): ReadonlySet<number> {
    if (!this.singleCache) {
      this.singleCache = new Set();
      for (const bytes of this.sorted().bytes) if (bytes.length === 1) this.singleCache.add(bytes[0]!);
    }
    return this.singleCache;
  }

  /** Every text token, sorted by its bytes (for walking the vocabulary as a trie). */
  sorted(): SortedVocabulary {
    if (this.sortedCache) return this.sortedCache;
    const ids: number[] = [];
    for (let id = 0; id < this.size; id++) if (!this.isSpecial(id) && this.bytes(id).length > 0) ids.push(id);
    ids.sort((a, b) => compareBytes(this.bytes(a), this.bytes(b)) || a - b);
    const bytes = ids.map((id) => this.bytes(id));
    const lcp = new Int32Array(ids.length);
    for (let i = 1; i < ids.length; i++) lcp[i] = commonPrefix(bytes[i - 1]!, bytes[i]!);
    this.sortedCache = { ids: Int32Array.from(ids), lcp, bytes };
    return this.sortedCache;
  }

  private byteOf(id: number): number | undefined {
    if (this.tokenizer.addedVocabulary.tokenById(id)) return undefined;
    const match = BYTE_TOKEN.exec(this.tokenizer.idToToken(id) ?? "");
    return match ? Number.parseInt(match[1]!, 16) : undefined;
  }

  private compute(id: number): Uint8Array {
    const added = this.tokenizer.addedVocabulary.tokenById(id);
    const piece = this.tokenizer.idToToken(id);
    if (piece === undefined || added?.special) {
      this.special[id] = 2;
      return EMPTY;
    }
    this.special[id] = 1;
    const byte = this.byteOf(id);
    if (byte !== undefined) return Uint8Array.of(byte);
    return this.encoder.encode(this.tokenizer.decode([id]));
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
