// @gemma-ts/serve: a continuous-batching engine over @gemma-ts/core's Gemma 2, streaming UTF-8-
// safe text with stop strings, reusing cached prompt prefixes, and constraining output to JSON
// (Schema). Knows nothing of HTTP: apps/api maps OpenAI's wire format onto these types.
export { Engine, prefillPieces } from "./engine.js";
export type {
  Completion,
  CompletionChunk,
  CompletionRequest,
  CompletionUsage,
  EngineOptions,
  EngineStats,
  TokenLogprob,
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
export { compileSchema, type CompiledSchema, type SchemaNode } from "./json-schema.js";
export { ConstraintGrammar, JsonConstraint } from "./json-constraint.js";
