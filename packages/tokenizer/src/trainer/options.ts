// The options of trainBpe, their defaults and their checks. Defaults are Gemma's SentencePiece
// settings (spm_train's names in brackets): BPE, byte fallback, split digits, whitespace-only
// pieces allowed, identity normalization, no dummy prefix, <pad>/<eos>/<bos>/<unk> = 0/1/2/3.
import { InvalidArgumentError } from "../errors.js";

/** Gemma's special tokens, in id order. */
export const GEMMA_SPECIAL_TOKENS: readonly string[] = ["<pad>", "<eos>", "<bos>", "<unk>"];

export interface TrainBpeProgress {
  /** "counting" while the corpus is read, "merging" while merges are learned. */
  phase: "counting" | "merging" | "done";
  /** Chunks of the corpus read so far. */
  chunks: number;
  /** Distinct words in the count table. */
  words: number;
  /** Merges learned so far, and the number the vocabulary size leaves room for. */
  merges: number;
  targetMerges: number;
}

export interface TrainBpeOptions {
  /** Total vocabulary size, special tokens, newline tokens and byte pieces included (spm's vocab_size). */
  vocabSize: number;
  /**
   * Special tokens in id order, written as added tokens with `special: true` and matched in the
   * raw text. Default Gemma's `<pad>`, `<eos>`, `<bos>`, `<unk>` (ids 0-3); append others, e.g.
   * `<start_of_turn>`, `<end_of_turn>`, to give them the next ids.
   */
  specialTokens?: readonly string[];
  /** The unknown token; must be one of `specialTokens`. Default `<unk>`. */
  unkToken?: string;
  /** The token the post-processor puts in front of every encoding, or null for none. Default `<bos>`. */
  bosToken?: string | null;
  /**
   * Added tokens for runs of 1..n newlines, right after the special tokens, as Gemma has (n = 31).
   * The model then never sees '\n': training splits the text into lines there, as spm_train
   * reads lines. 0 makes '\n' an ordinary character that pieces may contain. Default 31.
   */
  newlineTokens?: number;
  /** Digits are pieces of their own, never merged (split_digits). Default true. */
  splitDigits?: boolean;
  /** The 256 `<0x00>`..`<0xFF>` pieces, so characters outside the vocabulary become bytes (byte_fallback). Default true. */
  byteFallback?: boolean;
  /** Share of the corpus's characters the vocabulary must hold as pieces; the rarest rest is left to byte fallback (character_coverage). Default 0.9995. */
  characterCoverage?: number;
  /** Longest piece, in characters (max_sentencepiece_length). Default 16. */
  maxPieceLength?: number;
  /** Stop merging when the most frequent pair occurs fewer times than this. Default 1 (fill the vocabulary, as spm does). */
  minFrequency?: number;
  /** Allow pieces made only of '▁', such as '▁▁▁▁' for indentation (allow_whitespace_only_pieces). Default true, as Gemma. */
  allowWhitespaceOnlyPieces?: boolean;
  /** Never mix Unicode scripts in a piece, e.g. letters with punctuation (split_by_unicode_script). Default true. */
  splitByUnicodeScript?: boolean;
  /**
   * Bound on the distinct words kept in memory while counting. Past it the rarest words are
   * dropped (lossy counting), so memory stays bounded however large the corpus. Default 4,000,000.
   */
  maxWords?: number;
  /** Called now and then while counting and merging. */
  onProgress?: (progress: TrainBpeProgress) => void;
}

export type ResolvedTrainBpeOptions = Required<Omit<TrainBpeOptions, "onProgress" | "bosToken">> & {
  bosToken: string | null;
  onProgress: ((progress: TrainBpeProgress) => void) | undefined;
};

/** The largest vocabulary: symbol ids are packed two to a pair key below 2^53. */
const MAX_VOCAB_SIZE = 1 << 21;

export function resolveOptions(options: TrainBpeOptions): ResolvedTrainBpeOptions {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("options", "expected an object with at least vocabSize");
  }
  const resolved: ResolvedTrainBpeOptions = {
    vocabSize: options.vocabSize,
    specialTokens: options.specialTokens ?? GEMMA_SPECIAL_TOKENS,
    unkToken: options.unkToken ?? "<unk>",
    bosToken: options.bosToken === undefined ? "<bos>" : options.bosToken,
    newlineTokens: options.newlineTokens ?? 31,
    splitDigits: options.splitDigits ?? true,
    byteFallback: options.byteFallback ?? true,
    characterCoverage: options.characterCoverage ?? 0.9995,
    maxPieceLength: options.maxPieceLength ?? 16,
    minFrequency: options.minFrequency ?? 1,
    allowWhitespaceOnlyPieces: options.allowWhitespaceOnlyPieces ?? true,
    splitByUnicodeScript: options.splitByUnicodeScript ?? true,
    maxWords: options.maxWords ?? 4_000_000,
    onProgress: options.onProgress,
  };
  requireInteger("vocabSize", resolved.vocabSize, 1, MAX_VOCAB_SIZE);
  requireInteger("newlineTokens", resolved.newlineTokens, 0, 1024);
  requireInteger("maxPieceLength", resolved.maxPieceLength, 1, 512);
  requireInteger("maxWords", resolved.maxWords, 1000, Number.MAX_SAFE_INTEGER);
  if (typeof resolved.minFrequency !== "number" || !(resolved.minFrequency >= 1)) {
    throw new InvalidArgumentError("minFrequency", `expected a number >= 1, got ${String(resolved.minFrequency)}`);
  }
  const coverage = resolved.characterCoverage;
  if (typeof coverage !== "number" || !(coverage > 0 && coverage <= 1)) {
    throw new InvalidArgumentError("characterCoverage", `expected a number in (0, 1], got ${String(coverage)}`);
  }
  for (const flag of ["splitDigits", "byteFallback", "allowWhitespaceOnlyPieces", "splitByUnicodeScript"] as const) {
    if (typeof resolved[flag] !== "boolean") {
      throw new InvalidArgumentError(flag, `expected a boolean, got ${typeof resolved[flag]}`);
    }
  }
  if (resolved.onProgress !== undefined && typeof resolved.onProgress !== "function") {
    throw new InvalidArgumentError("onProgress", "expected a function");
  }
  checkSpecialTokens(resolved);
  return resolved;
}

function requireInteger(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

function checkSpecialTokens(options: ResolvedTrainBpeOptions): void {
  const { specialTokens } = options;
  if (!Array.isArray(specialTokens)) {
    throw new InvalidArgumentError("specialTokens", "expected an array of strings");
  }
  const seen = new Set<string>();
  specialTokens.forEach((token: unknown, i) => {
    if (typeof token !== "string" || token.length === 0) {
      throw new InvalidArgumentError(`specialTokens[${i}]`, "expected a non-empty string");
    }
    if (seen.has(token)) throw new InvalidArgumentError(`specialTokens[${i}]`, `'${token}' is listed twice`);
    seen.add(token);
  });
  if (!seen.has(options.unkToken)) {
    throw new InvalidArgumentError("unkToken", `'${options.unkToken}' is not one of specialTokens`);
  }
  if (options.bosToken !== null && !seen.has(options.bosToken)) {
    throw new InvalidArgumentError("bosToken", `'${options.bosToken}' is not one of specialTokens`);
  }
}
