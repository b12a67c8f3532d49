// The largest sizes the tokenizer takes from a file, in one table: every count, id, length and
// depth that a tokenizer.json or a SentencePiece .model declares is checked against it before
// anything is allocated or walked for it, so a file that lies cannot make the process allocate
// until V8 aborts, loop over billions of empty slots, or overflow the stack. Each limit leaves
// room above Gemma's tokenizers (256,000 tokens, 580,604 merges, 217 added tokens, tokens of at
// most 31 characters, components nested two deep) and above what Hugging Face's tokenizers and
// SentencePiece load in practice.
import { TokenizerLimitError } from "./errors.js";

export interface TokenizerLimit {
  readonly max: number;
  /** Why this bound: what real tokenizers hold and what the reference libraries accept. */
  readonly why: string;
}

export const TOKENIZER_LIMITS = {
  fileBytes: {
    max: 256 << 20,
    why: "Gemma's tokenizer.json is 17 MiB, the largest in use some tens of MiB; V8 cannot hold the text of a much larger one in a string (2^29 - 24 characters)",
  },
  vocabSize: {
    max: 4_194_304,
    why: "Gemma 2 has 256,000 tokens; the largest vocabularies in use have about 1M, and every id must fit the int32 ids the encoder returns",
  },
  tokenId: { max: 4_194_303, why: "an id addresses a vocabulary entry (see vocabSize)" },
  merges: {
    max: 2_097_152,
    why: "Gemma 2 has 580,604 merges; a merge rank must stay below 2^21 for the encoder's heap keys (rank * 2^32 + position < 2^53)",
  },
  tokenLength: {
    max: 1024,
    why: "Gemma's longest token has 31 characters, byte-level vocabularies' about 128, and spm_train learns none over 512; added tokens and user-defined symbols are matched by walking at most this many characters per position",
  },
  addedTokensLength: {
    max: 1 << 20,
    why: "the characters of all added tokens (or user-defined symbols) together, each one a trie node: Gemma's 217 added tokens have 2,313",
  },
  componentDepth: {
    max: 64,
    why: "Gemma nests its decoders two deep; Hugging Face's serde_json stops at 128 nested JSON values, about 63 levels of Sequence",
  },
  componentListLength: {
    max: 1024,
    why: "the steps of a normalizer or decoder Sequence and the ids of a post-processor template: real ones have a handful",
  },
  componentStringLength: {
    max: 4096,
    why: "patterns, replacements, prefixes and SentencePiece's unk_surface: real ones are a few characters",
  },
  regexProgramSize: {
    max: 1024,
    why: "instructions of a compiled {Regex: ...} pattern; real ones compile to a few dozen, and the linear-time engine may spend that many steps on each character",
  },
  charsmapReplacementBytes: {
    max: 1024,
    why: "the longest replacement in SentencePiece's NFKC rules is 33 bytes (U+FDFA); each match looks for the end of its replacement",
  },
  normalizedGrowth: {
    max: 64,
    why: "characters a normalizer or decoder may produce per input character (plus a fixed 1024): NFKC expands one character to at most 18, Gemma's steps to one",
  },
} as const satisfies Record<string, TokenizerLimit>;

export type TokenizerLimitName = keyof typeof TOKENIZER_LIMITS;

/** Throws TokenizerLimitError naming `field`, its value and the limit when `value` is above it. */
export function checkLimit(limit: TokenizerLimitName, field: string, value: number): void {
  const { max, why } = TOKENIZER_LIMITS[limit];
  if (value > max) throw new TokenizerLimitError(field, value, max, why);
}

/** The most characters a normalizer or decoder may turn `inputLength` characters into. */
export function maxOutputLength(inputLength: number): number {
  return inputLength * TOKENIZER_LIMITS.normalizedGrowth.max + 1024;
}

/** Throws when a normalizer or decoder step (`where`) would produce more than `maxLength` characters. */
export function checkOutputLength(where: string, length: number, maxLength: number): void {
  if (length > maxLength) {
    throw new TokenizerLimitError(`output of ${where}`, length, maxLength, TOKENIZER_LIMITS.normalizedGrowth.why);
  }
}
