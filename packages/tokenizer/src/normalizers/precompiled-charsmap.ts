// SentencePiece's precompiled_charsmap: the normalization rules (e.g. nmt_nfkc) compiled into a
// darts-clone double-array trie over UTF-8 bytes plus a blob of NUL-terminated replacements.
// Layout (normalizer.cc EncodePrecompiledCharsMap): <trie size, uint32 LE><trie units, uint32 LE
// each><replacement strings>; a trie key's value is the offset of its replacement in the blob.
import { MalformedTokenizerFileError } from "../errors.js";
import { checkLimit } from "../limits.js";

const LOCATION = "normalizer_spec.precompiled_charsmap";

export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  /** The replacement strings, each ending in a NUL byte. */
  private readonly replacements: Uint8Array;
  /** Lead bytes of some key: other bytes need no trie walk. */
  private readonly leadBytes = new Uint8Array(256);
  /** The value (replacement offset) of the last match longestMatch found. */
  lastValue = 0;

  constructor(blob: Uint8Array) {
    if (blob.length <= 4) throw new MalformedTokenizerFileError(LOCATION, `${blob.length} bytes is too short for a charsmap`);
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieSize = view.getUint32(0, true);
    if (trieSize >= blob.length) {
      throw new MalformedTokenizerFileError(LOCATION, `trie size ${trieSize} exceeds the ${blob.length}-byte blob`);
    }
    // Copied out rather than viewed: the blob need not be 4-byte aligned inside the file.
    const unitCount = trieSize >>> 2;
    this.units = new Uint32Array(unitCount);
    for (let i = 0; i < unitCount; i++) this.units[i] = view.getUint32(4 + i * 4, true);
    this.replacements = blob.subarray(4 + trieSize);
    // Each match scans its replacement for the NUL that ends it: a long one would make every
    // character of the text cost that long a scan.
    let run = 0;
    let longest = 0;
    for (const byte of this.replacements) {
      run = byte === 0 ? 0 : run + 1;
      if (run > longest) longest = run;
    }
    checkLimit("charsmapReplacementBytes", `the longest replacement in ${LOCATION}`, longest);
    if (unitCount === 0) return;
    const root = offsetOf(this.units[0]!);
    for (let byte = 0; byte < 256; byte++) {
      const unit = this.units[(root ^ byte) >>> 0];
      if (unit !== undefined && labelOf(unit) === byte) this.leadBytes[byte] = 1;
    }
  }

  /**
   * Darts::DoubleArray::commonPrefixSearch, keeping only the longest match: the length in bytes
   * of the longest key that prefixes bytes[start, end), or 0. Its replacement's offset is left in
   * `lastValue`.
   */
  longestMatch(bytes: Uint8Array, start: number, end: number): number {
    const units = this.units;
    if (units.length === 0 || this.leadBytes[bytes[start]!] === 0) return 0;
    let longest = 0;
    let nodePos = offsetOf(units[0]!);
    for (let i = start; i < end; i++) {
      const byte = bytes[i]!;
      nodePos = (nodePos ^ byte) >>> 0;
      const unit = units[nodePos];
      if (unit === undefined || labelOf(unit) !== byte) break;
      nodePos = (nodePos ^ offsetOf(unit)) >>> 0;
      if (((unit >>> 8) & 1) === 1) {
        const leaf = units[nodePos];
        if (leaf === undefined) throw new MalformedTokenizerFileError(LOCATION, `trie leaf ${nodePos} is outside the trie`);
        this.lastValue = leaf & 0x7fffffff;
        longest = i + 1 - start;
      }
    }
    return longest;
  }

  /** End (exclusive) of the replacement that starts at `offset`: the position of its NUL byte. */
  replacementEnd(offset: number): number {
    const end = this.replacements.indexOf(0, offset);
    if (offset >= this.replacements.length || end < 0) {
      throw new MalformedTokenizerFileError(LOCATION, `replacement offset ${offset} has no NUL-terminated string in the ${this.replacements.length}-byte blob`);
    }
    return end;
  }

  get replacementBytes(): Uint8Array {
    return this.replacements;
  }
}

// darts-clone's DoubleArrayUnit accessors; units are uint32, so every result is made unsigned.
function offsetOf(unit: number): number {
  return ((unit >>> 10) << ((unit & (1 << 9)) >>> 6)) >>> 0;
}

function labelOf(unit: number): number {
  return (unit & ((1 << 31) | 0xff)) >>> 0;
}
