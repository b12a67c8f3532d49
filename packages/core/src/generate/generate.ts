// generate(): the one decoding loop. Prefills the prompt into a KV cache, then samples one token
// at a time until a stop token, the token budget or an abort. An async iterator, so serving,
// distillation and RLHF all consume tokens as they come. Text-level concerns (stop strings,
// UTF-8-safe deltas) belong to whoever holds the tokenizer.
import { InvalidArgumentError } from "../errors.js";
import { KVCache } from "../models/gemma2/kv-cache.js";
import type { CausalLM } from "../models/causal-lm.js";
import type { HostTensor } from "../tensor/host-tensor.js";
import type { SamplingOptions } from "./logits-processors.js";
import { Sampler, type SampledToken } from "./sampler.js";

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
  if (promptIds.length === 0) throw new InvalidArgumentError("promptIds", "the prompt needs at least one token (e.g. <bos>)");
  const capacity = promptIds.length + options.maxNewTokens;
  const cache = options.cache ?? new KVCache(model.config, { capacity: Math.min(capacity, model.config.maxPositionEmbeddings) });
  if (cache.batchSize !== 1) throw new InvalidArgumentError("cache", "generate decodes one sequence; use a one-row cache or cache.row(b)");
  const sampler = new Sampler(options);
  const counts = new Map<number, number>();
  for (const id of promptIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  const stops = new Set(options.stopTokens ?? []);

  options.signal?.throwIfAborted();
  // Only the part of the prompt the cache does not hold yet is computed; at least the last token,
  // whose logits start the sampling.
  if (cache.length >= promptIds.length) cache.truncate(0, promptIds.length - 1);
  let logits = await model.forward([promptIds.slice(cache.length)], cache);
  for (let produced = 0; produced < options.maxNewTokens; produced++) {
    options.signal?.throwIfAborted();
    const next: GeneratedToken = sampler.sample(lastRow(logits, model.config.vocabSize), counts);
    counts.set(next.token, (counts.get(next.token) ?? 0) + 1);
    const last = produced + 1 === options.maxNewTokens;
    if (stops.has(next.token)) next.finishReason = "stop";
    else if (last) next.finishReason = "length";
    yield next;
    if (next.finishReason) return;
    logits = await model.forward([[next.token]], cache);
  }
}

function lastRow(logits: HostTensor<"float32">, vocabSize: number): Float32Array {
  return logits.data.subarray(logits.size - vocabSize);
}
