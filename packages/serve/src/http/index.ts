// @gemma-ts/serve/http (Node only): the OpenAI-compatible HTTP server over the package's Engine,
// and loading model folders into engines. createServer for embedding it (tests, the CLI's
// `serve`), runServer and the serving flags for running it as a program (apps/api's gemma-ts-api,
// `gemma-ts serve`), loadServedModel for the CLI's generate and chat too, ServerMetrics for what
// GET /metrics serves. The engine, the prompt builders and the request limits are the
// browser-safe main entry, @gemma-ts/serve.
export { createServer, type GemmaServer, type ServerOptions } from "./server.js";
export { runServer, type RunServerOptions } from "./run-server.js";
export { addServeFlags, integerFlag, quantizeFlag, serverOptionsFromFlags, type ServeEnvironment, type ServeFlags } from "./serve-flags.js";
export { DirectoryModelRegistry, isSafeModelName, type DirectoryModelRegistryOptions, type ModelInfo, type ModelLoader, type ModelRegistry } from "./model-registry.js";
export { LOAD_STAGES, loadServedModel, MODEL_BACKENDS, QUANT_TYPES, type EngineSettings, type LoadOptions, type LoadStage, type ModelBackend } from "./model-loader.js";
export { closeServedModel, type ServedModel, type ServingEngine } from "./served-model.js";
export { ApiError, ConfigurationError, type ApiErrorType, type OpenAiErrorBody } from "./errors.js";
export { CLIENT_CLOSED_STATUS, E2E_BUCKETS, ServerMetrics, TPOT_BUCKETS, TTFT_BUCKETS, type RequestMetrics } from "./metrics.js";
