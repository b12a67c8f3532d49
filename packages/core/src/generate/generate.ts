// generate(): one sequence, token by token. Prefills the prompt into a KV cache, then samples one
// token at a time until a stop token, the token budget or an abort: the batched decoder on a
// one-row cache. An async iterator, so a caller consumes tokens as they come. Text-level concerns
// (stop strings, UTF-8-safe deltas) belong to whoever holds the tokenizer.
import { InvalidArgumentError } from "../errors.js";
import { KVCache } from "../models/gemma2/kv-cache.js";
import type { CausalLM } from "../models/causal-lm.js";
import { BatchDecoder } from "./batch-decoder.js";
import type { SamplingOptions } from "./logits-processors.js";
import type { SampledToken } from "./sampler.js";

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Generation ends after emitting one of these (e.g. <eos>, <end_of_turn>). */
  stopTokens?: readonly number[];
  seed?: number;
  topLogprobs?: number;
  signal?: AbortSignal;
  /** Reuse a cache that already holds a prefix of the prompt (the next turn of a chat). */
  cache?: KVCache;
}

export interface GeneratedToken extends SampledToken {
  /** Why generation ends here, on its last token. */
  finishReason?: "stop" | "length";
}

export async function* generate(model: CausalLM, promptIds: readonly number[], options: GenerateOptions): AsyncGenerator<GeneratedToken> {
  const { maxNewTokens, stopTokens, topLogprobs, signal, cache: given, ...sampling } = options;
  const capacity = promptIds.length + maxNewTokens;
  const cache = given ?? new KVCache(model.config, { capacity: Math.min(capacity, model.config.maxPositionEmbeddings) });
  if (cache.batchSize !== 1) throw new InvalidArgumentError("cache", "generate decodes one sequence; use a one-row cache or cache.row(b)");
  const decoder = new BatchDecoder(model, cache);
  decoder.start(0, { promptIds, maxNewTokens, sampling, stopTokens, topLogprobs });
  // Only the part of the prompt the cache does not hold yet is computed, in one pass.
  signal?.throwIfAborted();
  let steps = await decoder.prefill();
  for (;;) {
    for (const step of steps) {
      if (step.error !== undefined) throw step.error;
      if (step.token) yield step.finishReason ? { ...step.token, finishReason: step.finishReason } : step.token;
    }
    if (decoder.active === 0) return;
    signal?.throwIfAborted();
    steps = await decoder.decode();
  }
}
