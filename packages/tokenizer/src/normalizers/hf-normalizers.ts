// Normalizers of Hugging Face's tokenizers that SentencePiece-style BPE tokenizers use.
// Gemma's tokenizer.json has exactly one: Replace ' ' -> '▁' (no Unicode normalization,
// no dummy prefix, no whitespace collapsing).
import type { Normalizer } from "../components.js";

export class ReplaceNormalizer implements Normalizer {
  constructor(
    private readonly pattern: string | RegExp,
    private readonly content: string,
  ) {}

  normalize(text: string): string {
    return text.replaceAll(this.pattern, this.content);
  }
}

/** Adds a prefix to non-empty text (Hugging Face's Prepend; SentencePiece's dummy prefix). */
export class PrependNormalizer implements Normalizer {
  constructor(private readonly prefix: string) {}

  normalize(text: string): string {
    return text.length === 0 ? text : this.prefix + text;
  }
}

export class UnicodeNormalizer implements Normalizer {
  constructor(private readonly form: "NFC" | "NFD" | "NFKC" | "NFKD") {}

  normalize(text: string): string {
    return text.normalize(this.form);
  }
}

export class LowercaseNormalizer implements Normalizer {
  normalize(text: string): string {
    return text.toLowerCase();
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

  normalize(text: string): string {
    let result = text;
    for (const normalizer of this.normalizers) result = normalizer.normalize(result);
    return result;
  }
}
