// Decoders of Hugging Face's tokenizers, each a step of decode_chain over the token strings.
// Gemma's chain is Replace '▁' -> ' ', ByteFallback, Fuse. Only Replace can lengthen the text;
// it keeps the total within `maxLength` (limits.ts). The others shorten it or keep its length.
import type { Decoder } from "../components.js";
import { maxOutputLength } from "../limits.js";
import { parseByteToken } from "../models/bpe.js";
import type { Replacement } from "../replacement.js";

export class ReplaceDecoder implements Decoder {
  constructor(private readonly replacement: Replacement) {}

  decodeChain(tokens: string[], maxLength = maxOutputLength(totalLength(tokens))): string[] {
    let total = 0;
    return tokens.map((token) => {
      const replaced = this.replacement.apply(token, maxLength - total);
      total += replaced.length;
      return replaced;
    });
  }
}

export function totalLength(tokens: readonly string[]): number {
  let total = 0;
  for (const token of tokens) total += token.length;
  return total;
}

/**
 * Turns runs of <0xNN> tokens back into text. A run that is not valid UTF-8 becomes one U+FFFD
 * per byte, exactly as the Rust decoder does (not one per maximal invalid sequence).
 */
export class ByteFallbackDecoder implements Decoder {
  private readonly utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  decodeChain(tokens: string[]): string[] {
    const out: string[] = [];
    let pending: number[] = [];
    const flush = (): void => {
      if (pending.length === 0) return;
      try {
        out.push(this.utf8.decode(Uint8Array.from(pending)));
      } catch {
        out.push("\ufffd".repeat(pending.length));
      }
      pending = [];
    };
    for (const token of tokens) {
      const byte = parseByteToken(token);
      if (byte === undefined) {
        flush();
        out.push(token);
      } else {
        pending.push(byte);
      }
    }
    flush();
    return out;
  }
}

export class FuseDecoder implements Decoder {
  decodeChain(tokens: string[]): string[] {
    return [tokens.join("")];
  }
}

/** Removes up to `start` leading and `stop` trailing occurrences of `content` from each token. */
export class StripDecoder implements Decoder {
  constructor(
    private readonly content: string,
    private readonly start: number,
    private readonly stop: number,
  ) {}

  decodeChain(tokens: string[]): string[] {
    return tokens.map((token) => {
      const chars = Array.from(token);
      let begin = 0;
      let end = chars.length;
      while (begin < this.start && begin < end && chars[begin] === this.content) begin++;
      let stripped = 0;
      while (stripped < this.stop && end > begin && chars[end - 1] === this.content) {
        end--;
        stripped++;
      }
      return chars.slice(begin, end).join("");
    });
  }
}

export class SequenceDecoder implements Decoder {
  constructor(private readonly decoders: readonly Decoder[]) {}

  decodeChain(tokens: string[], maxLength = maxOutputLength(totalLength(tokens))): string[] {
    let result = tokens;
    for (const decoder of this.decoders) result = decoder.decodeChain(result, maxLength);
    return result;
  }
}
