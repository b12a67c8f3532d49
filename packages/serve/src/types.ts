// The serving engine's contract: what a request asks for and what streams back. The HTTP layer
// (src/http/, the ./http entry) translates OpenAI's wire format to and from these; nothing here
// knows about HTTP.
import type { CausalLM, SamplingOptions } from "@gemma-ts/core";
import type { Tokenizer } from "@gemma-ts/tokenizer";

export interface EngineOptions {
  /** The core's graphs (Gemma2Model) or an exported ONNX folder (OnnxFolderModel). */
  model: CausalLM;
  /** Decodes generated ids to text and names the default stop tokens (<eos>, <end_of_turn>). */
  tokenizer: Tokenizer;
  /** Requests decoded together; one KV-cache row each. Default 8. */
  maxBatchSize?: number;
  /** Positions per row: prompt + generated tokens. Default (and at most) the model's maxPositionEmbeddings. */
  contextLength?: number;
  /** Requests that may wait for a row before complete() throws EngineOverloadedError. Default unbounded. */
  maxQueueSize?: number;
  /**
   * Longest prefill step, in tokens. A prompt is prefilled one chunk per scheduler turn, between
   * decode steps, so a long prompt delays the running streams by one chunk at a time. Default 128.
   */
  maxPrefillChunk?: number;
}

export interface CompletionRequest {
  /** The prompt as token ids (the chat template already applied, <bos> included). */
  promptIds: readonly number[];
  /**
   * At most this many tokens are generated. Clamped to what the context has room for
   * (contextLength - promptIds.length); finishReason "length" says the budget ended it. 0 only
   * with `promptLogprobs`: the prompt is scored and nothing is generated.
   */
  maxTokens: number;
  /**
   * core's sampling options; temperature defaults to 1 (0: greedy). The same seed and request
   * give the same tokens, alone or batched with others; without a seed each request draws one.
   */
  sampling?: SamplingOptions & { seed?: number };
  /**
   * Generation ends before any of these strings; the stop string itself is not emitted. Ignored
   * with `responseFormat`, where a stop string could cut the JSON short.
   */
  stop?: readonly string[];
  /** Generation ends after any of these ids (default: the tokenizer's <eos> and <end_of_turn>). */
  stopTokens?: readonly number[];
  /**
   * Report log-probabilities with this many alternatives per token (0: the chosen token only).
   * They are the model's own distribution: before temperature, truncation and any JSON mask.
   */
  topLogprobs?: number;
  /**
   * Constrain the output to JSON (that validates against `schema` when given). The text then
   * always parses: the JSON is closed before maxTokens runs out, and generation stops as soon as
   * the top-level value is complete. json_object means a top-level object of any content.
   */
  responseFormat?: { type: "json_object" } | { type: "json_schema"; schema: object };
  /**
   * Score the prompt: the log-probability of every prompt token given the ones before it, with
   * this many alternatives per position (0: the prompt token only), from the model's own
   * distribution (soft-capped logits at temperature 1). They arrive in one chunk
   * (`promptLogprobs`) before any generated text. The prompt is then computed from scratch, never
   * from the prefix cache, whose positions kept no logits.
   */
  promptLogprobs?: number;
  /** Aborting ends the request and frees its batch slot. */
  signal?: AbortSignal;
}

/** A token as log-probabilities show it. */
export interface LogprobToken {
  id: number;
  /** The token's text; "bytes:\xNN" for a byte token that is not a whole character by itself. */
  token: string;
  /** The token's UTF-8 (a special token's name: it adds nothing to the text). */
  bytes: number[];
  /** A special token (<bos>, <eos> ...): no text of its own. */
  special?: true;
}

export interface TopLogprob extends LogprobToken {
  logprob: number;
}

export interface TokenLogprob extends LogprobToken {
  logprob: number;
  topLogprobs: TopLogprob[];
}

/** One prompt token scored (CompletionRequest.promptLogprobs). */
export interface PromptTokenLogprob extends LogprobToken {
  /** Null for the first prompt token: nothing precedes it. */
  logprob: number | null;
  /** 1-based rank of the token in its position's distribution (1: the most likely); null for the first. */
  rank: number | null;
  /** The most likely tokens at its position, most likely first (empty for the first). */
  topLogprobs: TopLogprob[];
}

export interface CompletionChunk {
  /** New text since the previous chunk; never splits a UTF-8 character. */
  text: string;
  /**
   * The ids generated since the previous chunk (text may be held back across chunks, so it need
   * not be exactly these ids' text). A stop token is listed here but adds no text.
   */
  tokenIds: number[];
  /** One entry per id of `tokenIds`, when the request asked for topLogprobs. */
  logprobs?: TokenLogprob[];
  /** Every prompt token, scored, when the request asked for promptLogprobs: in the first chunk only. */
  promptLogprobs?: PromptTokenLogprob[];
  /** Set on the last chunk. */
  finishReason?: "stop" | "length";
}

export interface CompletionUsage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from a cached prefix instead of recomputed. */
  cachedTokens: number;
}

/**
 * What Engine.complete returns. `chunks` may be iterated once; breaking out of the loop aborts
 * the request. If the request ends other than by finishing (abort, close, a model failure),
 * iterating `chunks` throws a ServeError and `usage` rejects with the same error (a rejection no
 * one awaits is not reported as unhandled). Generation runs whether or not anyone reads.
 */
export interface Completion {
  chunks: AsyncIterable<CompletionChunk>;
  /** Resolves when the request finishes. */
  usage: Promise<CompletionUsage>;
}

export interface EngineStats {
  /** Requests holding a batch slot (prefilling or decoding). */
  running: number;
  /** Requests waiting for a slot. */
  queued: number;
  maxBatchSize: number;
}
