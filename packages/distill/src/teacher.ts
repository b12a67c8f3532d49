// What the store asks of a teacher, whatever runs it: for rows of token ids, its next-token
// distribution at every position, reduced to k entries. A local checkpoint (LocalTeacher) reduces
// the full soft-capped logits itself (sparsify.ts); a teacher behind an OpenAI-compatible endpoint
// implements the same interface from the prompt log-probs the server returns (`echo` with
// `logprobs: k`, or vLLM's `prompt_logprobs`), where it can serve `top-k` and refuses `sample`
// unless the server returns the whole distribution, since drawing needs every probability.

/** "top-k": the k most likely ids, exact log-probs. "sample": k draws, counts as weights. */
export type SparseMode = "top-k" | "sample";

export interface SparseRequest {
  mode: SparseMode;
  /** Entries per position (the draws per position in "sample" mode). */
  k: number;
  /** Divides the soft-capped logits before the softmax (the cap comes first, as Gemma 2 applies it). */
  temperature: number;
  /** "sample" mode: position p of the corpus draws from its own stream of (seed, p). */
  seed: number;
}

export interface TeacherRow {
  ids: Int32Array;
  /**
   * The corpus position of ids[0] (the store's global position): keys the draws of "sample" mode,
   * so a position's entries do not depend on how rows were batched.
   */
  position: number;
}

/**
 * The rows' positions concatenated, k slots each. A position's stored entries come first; unused
 * slots (fewer distinct ids than k draws) have log-prob -Infinity and an id distinct from the others.
 * - "top-k": ids by descending probability (ties: smaller id first); logprobs are the teacher's.
 * - "sample": the distinct ids drawn, by descending count (ties: smaller id); logprobs are
 *   log(count / k), the weights whose expectation is the teacher's distribution.
 * residual: the teacher's probability mass outside the stored ids (outside the drawn ids in
 * "sample" mode, where it is informative only: the weights sum to 1).
 */
export interface SparseScores {
  k: number;
  positions: number;
  ids: Int32Array;
  logprobs: Float32Array;
  residual: Float32Array;
}

/** Identifies a vocabulary: its size and the data package's tokenizerFingerprint. */
export interface Vocabulary {
  size: number;
  fingerprint: string;
}

export interface Teacher {
  /** Identifies the weights (and how they are run), recorded in the store's index. */
  readonly fingerprint: string;
  readonly vocabulary: Vocabulary;
  /** The longest row the teacher reads at once. */
  readonly maxContext: number;
  /** Scores rows (any lengths up to maxContext), returned concatenated in row order. */
  score(rows: readonly TeacherRow[], request: SparseRequest): Promise<SparseScores>;
  close(): Promise<void>;
}
