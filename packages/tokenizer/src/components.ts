// The pipeline stages of a tokenizer, one small interface each, in the order Hugging Face's
// tokenizers runs them: added tokens are split out of the raw text, the rest is normalized,
// the model turns each normalized piece into ids, the post-processor adds special tokens.
// Decoding runs the decoder chain over the id-to-token strings.
import type { IdBuffer } from "./id-buffer.js";

export interface Normalizer {
  /**
   * `maxLength` bounds the length of the result (default: maxOutputLength of the input, see
   * limits.ts); a normalizer that would produce more throws a TokenizerLimitError instead.
   */
  normalize(text: string, maxLength?: number): string;
}

export interface TokenizerModel {
  /** One more than the largest id the model can produce. */
  readonly vocabSize: number;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Appends the ids of one normalized piece of text (never containing an added token) to `out`. */
  tokenize(piece: string, out: IdBuffer): void;
}

/** Hugging Face's Decoder::decode_chain: token strings in, token strings out, joined at the end. */
export interface Decoder {
  /** `maxLength` bounds the total length of the strings returned, as for Normalizer. */
  decodeChain(tokens: string[], maxLength?: number): string[];
}

/** Adds special tokens around one encoded sequence (e.g. `<bos>` in front). */
export interface PostProcessor {
  process(ids: Int32Array): Int32Array;
}
