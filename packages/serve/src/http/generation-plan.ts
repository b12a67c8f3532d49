// One OpenAI request -> the engine requests of its choices, n per prompt, prompt-major (OpenAI's
// index order): the token budget checked against the context and the server's limit, OpenAI's
// sampling defaults (temperature 1, top_p 1), stop strings, the response format, and a seed per
// choice (seed + its index among its prompt's n, so choices differ but the same seed gives the
// same choices, whichever other prompts share the request). Without a seed each request draws
// one, as OpenAI's do vary.
import { randomInt } from "node:crypto";
import type { CompletionRequest } from "../types.js";
import { invalidRequest } from "./errors.js";
import type { Completer } from "./forced-call.js";
import type { ResponseFormatInput } from "./schemas.js";
import type { ServedModel } from "./served-model.js";

/** The fields both endpoints share, as parsed. */
export interface SamplingFields {
  max_tokens?: number | null | undefined;
  temperature?: number | null | undefined;
  top_p?: number | null | undefined;
  top_k?: number | null | undefined;
  min_p?: number | null | undefined;
  n?: number | null | undefined;
  stop?: string | string[] | null | undefined;
  seed?: number | null | undefined;
  frequency_penalty?: number | null | undefined;
  presence_penalty?: number | null | undefined;
  repetition_penalty?: number | null | undefined;
  response_format?: ResponseFormatInput | null | undefined;
}

export interface GenerationPlan {
  /** Choices per prompt: choice i answers prompt floor(i / n). */
  n: number;
  /** One engine request per choice, all ending when `signal` fires. */
  requests(signal: AbortSignal): CompletionRequest[];
  /** Runs each choice's request when it is more than one engine request (a forced tool call). */
  complete?: Completer | undefined;
}

export interface PlanOptions {
  /** The request's own budget (max_completion_tokens wins over max_tokens for chat). */
  maxTokens: number | null | undefined;
  /** Alternatives per token to report; undefined when logprobs were not asked for. */
  topLogprobs: number | undefined;
  /** The server's ceiling on any request's budget. */
  maxTokensLimit: number;
  /** The field clients should fix when a prompt is too long: "messages", or "prompt" / "prompt[i]" per prompt. */
  promptParams: readonly string[];
  /** Score each prompt with this many alternatives per token; undefined when not asked for. */
  promptLogprobs?: number | undefined;
  /** How each choice runs; default one engine request. */
  complete?: Completer | undefined;
}

export function planGeneration(body: SamplingFields, model: ServedModel, prompts: readonly number[][], options: PlanOptions): GenerationPlan {
  const bases = prompts.map((promptIds, i) => planPrompt(body, model, promptIds, options, options.promptParams[i] ?? "prompt"));
  const seed = body.seed ?? randomInt(2 ** 31);
  const n = body.n ?? 1;
  const sampling = samplingOf(body);
  return {
    n,
    complete: options.complete,
    requests: (signal) => bases.flatMap((base) => Array.from({ length: n }, (_, index) => ({ ...base, sampling: { ...sampling, seed: seed + index }, signal }))),
  };
}

/** One prompt's engine request, but for its seed and signal. */
function planPrompt(body: SamplingFields, model: ServedModel, promptIds: number[], options: PlanOptions, promptParam: string): Omit<CompletionRequest, "signal"> {
  const room = model.contextLength - promptIds.length;
  if (room <= 0) {
    throw invalidRequest(
      `This model's maximum context length is ${model.contextLength} tokens; the prompt holds ${promptIds.length}, leaving no room for a completion.`,
      promptParam,
      "context_length_exceeded",
    );
  }
  const asked = options.maxTokens ?? undefined;
  if (asked !== undefined && asked > options.maxTokensLimit) {
    throw invalidRequest(`max_tokens is ${asked}; this server allows at most ${options.maxTokensLimit}.`, "max_tokens");
  }
  if (asked !== undefined && asked > room) {
    throw invalidRequest(
      `This model's maximum context length is ${model.contextLength} tokens; the prompt holds ${promptIds.length} and ${asked} completion tokens were requested.`,
      "max_tokens",
      "context_length_exceeded",
    );
  }
  const maxTokens = asked ?? Math.min(room, options.maxTokensLimit);
  return {
    promptIds,
    maxTokens,
    ...(body.stop ? { stop: typeof body.stop === "string" ? [body.stop] : body.stop } : {}),
    ...(options.topLogprobs !== undefined ? { topLogprobs: options.topLogprobs } : {}),
    ...(options.promptLogprobs !== undefined ? { promptLogprobs: options.promptLogprobs } : {}),
    ...responseFormatOf(body.response_format),
  };
}

/**
 * Temperatures below this sample greedily, as in vLLM (its sampling epsilon): dividing logits by a
 * temperature near zero overflows float32 to infinities, whose softmax is NaN.
 */
const GREEDY_BELOW = 1e-5;

function samplingOf(body: SamplingFields): NonNullable<CompletionRequest["sampling"]> {
  const temperature = body.temperature ?? 1;
  const sampling: NonNullable<CompletionRequest["sampling"]> = { temperature: temperature < GREEDY_BELOW ? 0 : temperature };
  if (body.top_p != null) sampling.topP = body.top_p;
  if (body.top_k != null) sampling.topK = body.top_k;
  if (body.min_p != null) sampling.minP = body.min_p;
  if (body.frequency_penalty != null) sampling.frequencyPenalty = body.frequency_penalty;
  if (body.presence_penalty != null) sampling.presencePenalty = body.presence_penalty;
  if (body.repetition_penalty != null) sampling.repetitionPenalty = body.repetition_penalty;
  return sampling;
}

function responseFormatOf(format: ResponseFormatInput | null | undefined): Pick<CompletionRequest, "responseFormat"> {
  if (!format || format.type === "text") return {};
  // A json_schema without a schema constrains to JSON only, as OpenAI's json_object.
  if (format.type === "json_object" || !format.json_schema.schema) return { responseFormat: { type: "json_object" } };
  return { responseFormat: { type: "json_schema", schema: format.json_schema.schema } };
}
