// Normalizers of Hugging Face's tokenizers that SentencePiece-style BPE tokenizers use.
// Gemma's tokenizer.json has exactly one: Replace ' ' -> '▁' (no Unicode normalization,
// no dummy prefix, no whitespace collapsing). Each keeps its result within `maxLength`
// (limits.ts), so no chain of them can blow a short text up.
import type { Normalizer } from "../components.js";
import { checkOutputLength, maxOutputLength } from "../limits.js";
import type { Replacement } from "../replacement.js";

export class ReplaceNormalizer implements Normalizer {
  constructor(private readonly replacement: Replacement) {}

  normalize(text: string, maxLength = maxOutputLength(text.length)): string {
    return this.replacement.apply(text, maxLength);
  }
}

/** Adds a prefix to non-empty text (Hugging Face's Prepend; SentencePiece's dummy prefix). */
export class PrependNormalizer implements Normalizer {
  constructor(
    private readonly prefix: string,
    private readonly where = "Prepend",
  ) {}

  normalize(text: string, maxLength = maxOutputLength(text.length)): string {
    if (text.length === 0) return text;
    checkOutputLength(this.where, this.prefix.length + text.length, maxLength);
    return this.prefix + text;
  }
}

// Unicode normalization and lowercasing expand a character to a bounded few (at most 18 for
// NFKC), so the result is built first and checked after.
export class UnicodeNormalizer implements Normalizer {
  constructor(private readonly form: "NFC" | "NFD" | "NFKC" | "NFKD") {}

  normalize(text: string, maxLength = maxOutputLength(text.length)): string {
    const result = text.normalize(this.form);
    checkOutputLength(this.form, result.length, maxLength);
    return result;
  }
}

export class LowercaseNormalizer implements Normalizer {
  normalize(text: string, maxLength = maxOutputLength(text.length)): string {
    const result = text.toLowerCase();
    checkOutputLength("Lowercase", result.length, maxLength);
    return result;
  }
}

export class StripNormalizer implements Normalizer {
  constructor(
    private readonly left: boolean,
    private readonly right: boolean,
  ) {}

  normalize(text: string): string {
    if (this.left && this.right) return text.trim();
    if (this.left) return text.trimStart();
    return this.right ? text.trimEnd() : text;
  }
}

export class SequenceNormalizer implements Normalizer {
  constructor(private readonly normalizers: readonly Normalizer[]) {}

  /** The budget is the whole sequence's: each step gets what the original text allows. */
  normalize(text: string, maxLength = maxOutputLength(text.length)): string {
    let result = text;
    for (const normalizer of this.normalizers) result = normalizer.normalize(result, maxLength);
    return result;
  }
}
