// The request bodies of /v1/chat/completions and /v1/completions as zod schemas, field for field
// as OpenAI documents them (null accepted wherever OpenAI accepts it, since SDKs send nulls).
// Unknown fields are dropped, as vLLM does, so clients that send extras keep working; fields whose
// meaning this server cannot honour (logit_bias, suffix, legacy functions, ...) are rejected, not ignored.
// Every numeric range is the package's REQUEST_LIMITS, the table the engine and the CLI check too.
import { z } from "zod";
import { checkSchemaDocument } from "../json-schema.js";
import { REQUEST_LIMITS, type RequestLimit } from "../request-limits.js";
import { fromServeError, invalidRequest, type ApiError } from "./errors.js";

/** A number (or integer) within one of REQUEST_LIMITS. */
function limited(limit: RequestLimit) {
  const base = limit.integer ? z.int() : z.number();
  return (limit.minExclusive ? base.gt(limit.min) : base.min(limit.min)).max(limit.max);
}

const stopString = z.string().min(REQUEST_LIMITS.stopStringLength.min).max(REQUEST_LIMITS.stopStringLength.max);
const stop = z.union([stopString, z.array(stopString).max(REQUEST_LIMITS.stopStrings.max)]);

const responseFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({
      name: z.string().min(1).max(64),
      description: z.string().nullish(),
      schema: z.record(z.string(), z.unknown()).nullish(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

/** Fields both endpoints share: sampling, stopping, streaming. */
const common = {
  model: z.string().min(1),
  max_tokens: limited(REQUEST_LIMITS.maxTokens).nullish(),
  temperature: limited(REQUEST_LIMITS.temperature).nullish(),
  top_p: limited(REQUEST_LIMITS.topP).nullish(),
  n: limited(REQUEST_LIMITS.choices).nullish(),
  stop: stop.nullish(),
  seed: limited(REQUEST_LIMITS.seed).nullish(),
  frequency_penalty: limited(REQUEST_LIMITS.frequencyPenalty).nullish(),
  presence_penalty: limited(REQUEST_LIMITS.presencePenalty).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  response_format: responseFormat.nullish(),
  user: z.string().nullish(),
  // Extensions that vLLM and llama.cpp's server accept too.
  top_k: limited(REQUEST_LIMITS.topK).nullish(),
  min_p: limited(REQUEST_LIMITS.minP).nullish(),
  repetition_penalty: limited(REQUEST_LIMITS.repetitionPenalty).nullish(),
  // Present so that asking for them is an error rather than silently ignored.
  logit_bias: z.record(z.string(), z.number()).nullish(),
};

const textPart = z.object({ type: z.literal("text"), text: z.string() });

const toolCall = z.object({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

/**
 * Which message needs which field (content, tool_call_id) depends on its role; chat-prompt.ts
 * checks that, naming the message, so the schema only checks types.
 */
const chatMessage = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(textPart).min(1)]).nullish(),
  name: z.string().nullish(),
  tool_calls: z.array(toolCall).nullish(),
  tool_call_id: z.string().nullish(),
});

/** A function as chat completions declare it: {type: "function", function: {...}}. */
export const functionDefinition = z.object({
  name: z.string().regex(/^[a-zA-Z0-9_-]+$/, "expected letters, digits, _ and - only").min(REQUEST_LIMITS.toolName.min).max(REQUEST_LIMITS.toolName.max),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), function: z.object({ name: z.string().min(1) }) }),
]);

export const chatCompletionRequest = z.object({
  ...common,
  messages: z.array(chatMessage).min(1),
  max_completion_tokens: limited(REQUEST_LIMITS.maxTokens).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: limited(REQUEST_LIMITS.topLogprobs).nullish(),
  /** Each tool's type is checked by chat-tools.ts, so an unsupported type gets its own message. */
  tools: z.array(z.unknown()).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  functions: z.array(z.unknown()).nullish(),
});

export const completionRequest = z.object({
  ...common,
  /** A string, strings, token ids or lists of them: prompts.ts checks it, with messages per form. */
  prompt: z.unknown(),
  /** 0 only with echo: the prompt is scored, nothing generated (rejectUnsupported checks). */
  max_tokens: z.int().min(0).max(REQUEST_LIMITS.maxTokens.max).nullish(),
  /** The legacy endpoint's logprobs is the number of alternatives (OpenAI allows 5; vLLM 20). */
  logprobs: limited(REQUEST_LIMITS.topLogprobs).nullish(),
  /** The text starts with the prompt, and logprobs cover the prompt's tokens first. */
  echo: z.boolean().nullish(),
  /** vLLM's extension: each prompt token's log-probability, rank and this many alternatives. */
  prompt_logprobs: limited(REQUEST_LIMITS.promptLogprobs).nullish(),
  best_of: z.int().min(1).nullish(),
  suffix: z.string().nullish(),
});

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;
export type CompletionRequestBody = z.infer<typeof completionRequest>;
export type ResponseFormatInput = z.infer<typeof responseFormat>;

/** Parses a body, or throws a 400 naming the first offending field as OpenAI's `param`. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalidRequest("The request body must be a JSON object.");
  }
  const result = schema.safeParse(body);
  if (result.success) {
    rejectUnsupported(result.data as Record<string, unknown>);
    checkResponseSchema(result.data as { response_format?: ResponseFormatInput | null });
    return result.data;
  }
  throw fromZodError(result.error);
}

/** Parses a part of a body found at `prefix` ("tools[0].function"), or throws a 400 naming the field. */
export function parseAt<T>(schema: z.ZodType<T>, value: unknown, prefix: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw fromZodError(result.error, prefix);
}

function fromZodError(error: z.ZodError, prefix = ""): ApiError {
  const issue = error.issues[0];
  if (!issue) return invalidRequest("Invalid request body.");
  const param = issue.path.reduce<string>((path, key) => (typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${String(key)}` : String(key)), prefix);
  // zod reports a missing field as a type error whose received type is undefined.
  if (issue.code === "invalid_type" && /received undefined$/.test(issue.message)) {
    return invalidRequest(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
  }
  const problem = issue.code === "invalid_union" ? "Invalid input: not any of the accepted types" : issue.message;
  return invalidRequest(`Invalid value for '${param || "body"}': ${problem}.`, param || null, "invalid_value");
}

function rejectUnsupported(body: Record<string, unknown>): void {
  const nonEmpty = (value: unknown) => (Array.isArray(value) ? value.length > 0 : value !== null && typeof value === "object" ? Object.keys(value).length > 0 : false);
  for (const field of ["functions", "logit_bias"]) {
    if (nonEmpty(body[field])) throw invalidRequest(`'${field}' is not supported by this server.`, field, "unsupported_parameter");
  }
  if (body.max_tokens === 0 && body.echo !== true) {
    throw invalidRequest("max_tokens 0 generates nothing; it is allowed only with 'echo', to score the prompt.", "max_tokens", "invalid_value");
  }
  if (typeof body.best_of === "number" && body.best_of > 1) throw invalidRequest("'best_of' > 1 is not supported by this server; use 'n'.", "best_of", "unsupported_parameter");
  if (typeof body.suffix === "string" && body.suffix.length > 0) throw invalidRequest("'suffix' is not supported by this server.", "suffix", "unsupported_parameter");
  if (typeof body.top_logprobs === "number" && body.top_logprobs > 0 && body.logprobs !== true) {
    throw invalidRequest("'top_logprobs' requires 'logprobs' to be true.", "top_logprobs");
  }
}

/**
 * A response_format schema nested past the limit is refused here, at the door: the engine walks
 * schemas (JSON.stringify among others) before its compiler would refuse them itself.
 */
function checkResponseSchema(body: { response_format?: ResponseFormatInput | null }): void {
  const format = body.response_format;
  if (format?.type !== "json_schema" || !format.json_schema.schema) return;
  try {
    checkSchemaDocument(format.json_schema.schema);
  } catch (error) {
    throw fromServeError(error) ?? error;
  }
}
