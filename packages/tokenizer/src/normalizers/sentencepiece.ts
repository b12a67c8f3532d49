// SentencePiece's normalizer (normalizer.cc Normalizer::Normalize), step for step on the UTF-8
// bytes, as the C++ does: each prefix is replaced by the longest rule of the precompiled charsmap
// (user-defined symbols pass through untouched); leading, trailing and repeated spaces are dropped
// (remove_extra_whitespaces); a space is added in front (add_dummy_prefix; behind with
// treat_whitespace_as_suffix); spaces become '▁' (escape_whitespaces).
import type { Normalizer } from "../components.js";
import { checkOutputLength, maxOutputLength } from "../limits.js";
import type { PrecompiledCharsmap } from "./precompiled-charsmap.js";
import type { PrefixMatcher } from "./prefix-matcher.js";

export interface SentencePieceNormalizerOptions {
  charsmap: PrecompiledCharsmap | undefined;
  /** User-defined symbols (keys in UTF-8): copied as they are, never normalized. */
  userDefinedSymbols: PrefixMatcher | undefined;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
  treatWhitespaceAsSuffix: boolean;
}

const SPACE = 0x20;
// U+2581 '▁' in UTF-8.
const SPACE_SYMBOL = Uint8Array.of(0xe2, 0x96, 0x81);

export class SentencePieceNormalizer implements Normalizer {
  private readonly encoder = new TextEncoder();
  // ignoreBOM: a leading U+FEFF is text to SentencePiece, not a byte order mark to drop.
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  private out = new Uint8Array(1024);
  private outLength = 0;
  /** Bytes `out` may grow to in this call: a UTF-16 code unit takes at most 3 bytes of UTF-8. */
  private maxBytes = 0;
  // The normalized form of the prefix normalizePrefix last read: source[from, to).
  private source: Uint8Array = SPACE_SYMBOL;
  private from = 0;
  private to = 0;

  constructor(private readonly options: SentencePieceNormalizerOptions) {}

  normalize(text: string, maxLength = maxOutputLength(text.length)): string {
    if (text.length === 0) return text;
    this.maxBytes = 3 * maxLength;
    const { addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces, treatWhitespaceAsSuffix } = this.options;
    const input = this.encoder.encode(text);
    const end = input.length;
    let position = 0;
    // Leading spaces: whatever normalizes to exactly " " (a tab, U+3000 ... under nmt_nfkc).
    if (removeExtraWhitespaces) {
      while (position < end) {
        const consumed = this.normalizePrefix(input, position);
        if (this.to - this.from !== 1 || this.source[this.from] !== SPACE) break;
        position += consumed;
      }
    }
    if (position === end) return "";
    this.outLength = 0;
    if (!treatWhitespaceAsSuffix && addDummyPrefix) this.appendSpace();
    let previousWasSpace = removeExtraWhitespaces;
    while (position < end) {
      const consumed = this.normalizePrefix(input, position);
      const { source, to } = this;
      let from = this.from;
      // A piece that follows a space loses its own leading spaces (one space between words).
      while (previousWasSpace && from < to && source[from] === SPACE) from++;
      if (from < to) {
        for (let k = from; k < to; k++) {
          if (escapeWhitespaces && source[k] === SPACE) this.appendSpace();
          else this.append(source[k]!);
        }
        previousWasSpace = source[to - 1] === SPACE;
      }
      position += consumed;
      if (!removeExtraWhitespaces) previousWasSpace = false;
    }
    if (removeExtraWhitespaces) {
      // Trailing spaces, counted after escaping: this also drops a '▁' the text itself ends with.
      if (escapeWhitespaces) {
        while (this.outLength >= 3 && this.endsWithSpaceSymbol()) this.outLength -= 3;
      } else {
        while (this.outLength >= 1 && this.out[this.outLength - 1] === SPACE) this.outLength--;
      }
    }
    if (treatWhitespaceAsSuffix && addDummyPrefix) this.appendSpace();
    const result = this.decoder.decode(this.out.subarray(0, this.outLength));
    checkOutputLength("the SentencePiece normalizer", result.length, maxLength);
    return result;
  }

  /**
   * Normalizer::NormalizePrefix: leaves the normalized form of the longest rule (or user-defined
   * symbol, or else the one character) at input[position] in source[from, to); returns how many
   * input bytes it covers.
   */
  private normalizePrefix(input: Uint8Array, position: number): number {
    const { charsmap, userDefinedSymbols } = this.options;
    if (userDefinedSymbols) {
      const length = userDefinedSymbols.longestInBytes(input, position, input.length);
      if (length > 0) return this.copied(input, position, length);
    }
    if (charsmap) {
      const length = charsmap.longestMatch(input, position, input.length);
      if (length > 0) {
        this.source = charsmap.replacementBytes;
        this.from = charsmap.lastValue;
        this.to = charsmap.replacementEnd(charsmap.lastValue);
        return length;
      }
    }
    // The input came from TextEncoder, so it is valid UTF-8: the lead byte gives the length.
    const lead = input[position]!;
    const length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    return this.copied(input, position, Math.min(length, input.length - position));
  }

  private copied(input: Uint8Array, position: number, length: number): number {
    this.source = input;
    this.from = position;
    this.to = position + length;
    return length;
  }

  private appendSpace(): void {
    if (!this.options.escapeWhitespaces) {
      this.append(SPACE);
      return;
    }
    this.append(SPACE_SYMBOL[0]!);
    this.append(SPACE_SYMBOL[1]!);
    this.append(SPACE_SYMBOL[2]!);
  }

  private endsWithSpaceSymbol(): boolean {
    const at = this.outLength - 3;
    return this.out[at] === SPACE_SYMBOL[0] && this.out[at + 1] === SPACE_SYMBOL[1] && this.out[at + 2] === SPACE_SYMBOL[2];
  }

  private append(byte: number): void {
    if (this.outLength === this.out.length) {
      checkOutputLength("the SentencePiece normalizer (in UTF-8 bytes)", this.outLength + 1, this.maxBytes);
      const grown = new Uint8Array(this.out.length * 2);
      grown.set(this.out);
      this.out = grown;
    }
    this.out[this.outLength++] = byte;
  }
}
