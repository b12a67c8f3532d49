// @gemma-ts/serve: a continuous-batching engine over @gemma-ts/core's Gemma 2, streaming UTF-8-
// safe text with stop strings, reusing cached prompt prefixes, and constraining output to JSON
// (Schema); prompt ids from chat messages or a raw prompt; the one table of request limits.
// Browser-safe and HTTP-free: the OpenAI-compatible server and model-folder loading are the
// Node-only entry @gemma-ts/serve/http (src/http/index.ts).
export { Engine } from "./engine.js";
export type {
  Completion,
  CompletionChunk,
  CompletionRequest,
  CompletionUsage,
  EngineOptions,
  EngineStats,
  LogprobToken,
  PromptTokenLogprob,
  TokenLogprob,
  TopLogprob,
} from "./types.js";
export {
  ContextLengthExceededError,
  EngineClosedError,
  EngineFailureError,
  EngineOverloadedError,
  InvalidOptionsError,
  InvalidRequestError,
  RequestAbortedError,
  ServeError,
  UnsupportedSchemaError,
  type ServeErrorCode,
} from "./errors.js";
export { TextStream } from "./text-stream.js";
export { TokenVocabulary } from "./vocabulary.js";
export { checkSchemaDocument, compileSchema, SCHEMA_LIMITS, type CompiledSchema, type SchemaNode } from "./json-schema.js";
export { ConstraintGrammar, JsonConstraint } from "./json-constraint.js";
export { chatPromptIds, toGemmaTurns, type ChatMessageInput, type ChatPromptOptions } from "./chat-prompt.js";
export { CALL_ARGUMENTS, CALL_OPENING, DEFAULT_TOOL_PROMPT_TEMPLATE, renderToolPrompt, type ToolCallInput, type ToolFunction, type ToolRules } from "./tool-prompt.js";
export { parseToolCalls, type ParsedToolCall } from "./tool-calls.js";
export { completionPromptIds } from "./completion-prompt.js";
export { describeLimit, REQUEST_LIMITS, withinLimit, type RequestLimit, type RequestLimitName } from "./request-limits.js";
