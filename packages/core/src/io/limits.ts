// The largest sizes the loaders take from a file: every count, dimension, length and depth that a
// config.json, a safetensors header or a GGUF header declares is checked against this table before
// anything is allocated for it, so a file that lies cannot make the process allocate until V8
// aborts. Each limit leaves room above the released Gemma 2 sizes (2b / 9b / 27b: at most 46
// layers, hidden 4608, intermediate 36864, 32 heads, 16 KV heads, head_dim 256, vocab 256000,
// 8192 positions) and above what llama.cpp and Hugging Face transformers load in practice.
// Browser-safe: no file access here.
import { LimitExceededError } from "../errors.js";

export interface LoaderLimit {
  readonly max: number;
  /** Why this bound: what real checkpoints hold and what the reference loaders accept. */
  readonly why: string;
}

export const LOADER_LIMITS = {
  layers: { max: 1024, why: "Gemma 2 27B has 46 layers; llama.cpp's per-layer tables hold at most 512, its LLAMA_MAX_LAYERS" },
  attentionHeads: { max: 1024, why: "Gemma 2 27B has 32 query heads; the largest open models have 128" },
  keyValueHeads: { max: 1024, why: "at most the query heads (Gemma 2 27B: 16)" },
  headDim: { max: 8192, why: "Gemma 2 uses 128 and 256; open models use at most 512" },
  hiddenSize: { max: 65536, why: "Gemma 2 27B: 4608; the widest open models use 16384 to 18432" },
  intermediateSize: { max: 262144, why: "Gemma 2 27B: 36864; the widest open models use 53248" },
  vocabSize: { max: 4_194_304, why: "Gemma 2: 256000; the largest vocabularies in use are about 262k, byte-level ones a few million at most" },
  tokenId: { max: 4_194_303, why: "an id addresses a vocabulary row (see vocabSize)" },
  maxPositions: { max: 16_777_216, why: "Gemma 2: 8192; long-context models ship up to 10M positions; llama.cpp keeps n_ctx_train in 32 bits" },
  slidingWindow: { max: 16_777_216, why: "Gemma 2: 4096; never more than the context (see maxPositions)" },
  tensorCount: { max: 1_048_576, why: "Gemma 2 27B has 508 tensors; mixture-of-experts checkpoints with a tensor per expert about 100k" },
  tensorRank: { max: 8, why: "ggml allows 4 dimensions, its GGML_MAX_DIMS; PyTorch checkpoints rarely use more than 5" },
  tensorElements: { max: 2 ** 40, why: "Gemma 2 27B's embedding has 1.18e9 elements; 2^40 elements is 4 TiB of float32" },
  metadataEntries: { max: 65536, why: "a gemma2 GGUF has about 40 metadata keys" },
  stringBytes: { max: 16 << 20, why: "the longest GGUF strings are chat templates of a few KiB" },
  arrayItems: { max: 16 << 20, why: "the longest GGUF arrays are vocabularies (256000 pieces) and BPE merges (a few hundred thousand)" },
  nestingDepth: { max: 8, why: "llama.cpp reads no nested GGUF arrays at all; gguf-py writes lists of lists, two levels" },
  ggufHeaderBytes: { max: 256 << 20, why: "Gemma 2's header, 256000 pieces with scores and types, is about 6 MiB; a vocabulary at the limit above about 150 MiB" },
  safetensorsHeaderBytes: { max: 100_000_000, why: "the safetensors Rust crate refuses larger headers" },
  jsonFileBytes: { max: 64 << 20, why: "config.json is about 1 KiB; the shard index of a 100k-tensor checkpoint about 10 MiB" },
} as const satisfies Record<string, LoaderLimit>;

export type LoaderLimitName = keyof typeof LOADER_LIMITS;

/**
 * Throws LimitExceededError naming `field`, its value and the limit when `value` is above
 * LOADER_LIMITS[limit]; `where` names the file (or the object) it came from.
 */
export function checkLimit(limit: LoaderLimitName, field: string, value: number | bigint, where: string): void {
  const { max, why } = LOADER_LIMITS[limit];
  if (value > max) throw new LimitExceededError(field, value, max, where, why);
}
