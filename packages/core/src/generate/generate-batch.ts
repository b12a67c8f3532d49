// generateBatch(): many sequences generated together, for rollouts (RLHF, on-policy distillation).
// Each request gets a row of one KV cache; more requests than rows wait and take rows as others
// finish. Every turn prefills a chunk of each new prompt, then decodes one token on every other row.
// Each request has its own sampler and seed, so its tokens are those it gets generated alone, and
// its log-probabilities are those of a forward pass over prompt + tokens.
import { InvalidArgumentError } from "../errors.js";
import type { CausalLM } from "../models/causal-lm.js";
import { KVCache } from "../models/gemma2/kv-cache.js";
import { BatchDecoder, type RowStep } from "./batch-decoder.js";
import type { SamplingOptions } from "./logits-processors.js";
import type { FinishReason, Sequence } from "./sequence.js";

export interface GenerateBatchRequest {
  /** At least one token (e.g. <bos>). */
  promptIds: readonly number[];
  maxNewTokens: number;
  /** Temperature defaults to 1 (0: greedy); the seed to 0. */
  sampling?: SamplingOptions & { seed?: number };
  /** Generation ends after emitting one of these. */
  stopTokens?: readonly number[];
}

export interface GenerateBatchOptions {
  /** Rows decoded together (KV-cache rows; no more than there are requests). Default 8. */
  maxBatchSize?: number;
  /** Longest prefill step, in tokens. Default 128. */
  maxPrefillChunk?: number;
  signal?: AbortSignal;
}

export interface GenerateBatchResult {
  /** The generated ids (a stop token that ended it included). */
  tokens: number[];
  /** log p of each token under the model's distribution (before temperature, truncation, penalties). */
  logprobs: number[];
  finishReason: FinishReason;
}

/** Generates a continuation of each request's prompt; results in the order of the requests. */
export async function generateBatch(model: CausalLM, requests: readonly GenerateBatchRequest[], options: GenerateBatchOptions = {}): Promise<GenerateBatchResult[]> {
  const rows = options.maxBatchSize ?? 8;
  const maxPrefillChunk = options.maxPrefillChunk ?? 128;
  if (!Number.isInteger(rows) || rows < 1) throw new InvalidArgumentError("maxBatchSize", `expected a positive integer, got ${rows}`);
  if (!Number.isInteger(maxPrefillChunk) || maxPrefillChunk < 1) throw new InvalidArgumentError("maxPrefillChunk", `expected a positive integer, got ${maxPrefillChunk}`);
  const positions = model.config.maxPositionEmbeddings;
  requests.forEach(({ promptIds, maxNewTokens }, i) => {
    if (promptIds.length === 0) throw new InvalidArgumentError(`requests[${i}].promptIds`, "the prompt needs at least one token (e.g. <bos>)");
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new InvalidArgumentError(`requests[${i}].maxNewTokens`, `expected a positive integer, got ${maxNewTokens}`);
  });
  // The last token is sampled, never fed: a row holds at most the prompt and all tokens but one.
  const lengths = requests.map((request) => request.promptIds.length + request.maxNewTokens - 1);
  lengths.forEach((length, i) => {
    if (length > positions) throw new InvalidArgumentError(`requests[${i}]`, `the prompt and maxNewTokens need ${length} positions, the model has ${positions}`);
  });
  if (requests.length === 0) return [];
  options.signal?.throwIfAborted();

  const cache = new KVCache(model.config, { batchSize: Math.min(rows, requests.length), capacity: Math.max(...lengths) });
  const decoder = new BatchDecoder(model, cache);
  const sequences: Sequence[] = [];
  const check = (steps: RowStep[]): void => {
    for (const step of steps) if (step.error !== undefined) throw step.error;
  };
  while (sequences.length < requests.length || decoder.active > 0) {
    for (let row = 0; row < cache.batchSize && sequences.length < requests.length; row++) {
      if (decoder.sequence(row)) continue;
      cache.resetRow(row);
      sequences.push(decoder.start(row, requests[sequences.length]!));
    }
    check(await decoder.prefill(maxPrefillChunk));
    options.signal?.throwIfAborted();
    check(await decoder.decode());
    options.signal?.throwIfAborted();
  }
  return sequences.map((sequence) => ({ tokens: sequence.tokens, logprobs: sequence.logprobs, finishReason: sequence.finishReason! }));
}
