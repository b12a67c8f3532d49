// @gemma-ts/api: the OpenAI-compatible HTTP server over @gemma-ts/serve's Engine. createServer
// for embedding it (tests, the CLI's `serve`), runServer for running it as a program, and the
// model loading both share with the CLI's generate and chat.
export { createServer, type GemmaServer, type ServerOptions } from "./server.js";
export { runServer, type RunServerOptions } from "./run-server.js";
export { addServeFlags, integerFlag, serverOptionsFromFlags, type ServeFlags } from "./serve-flags.js";
export { DirectoryModelRegistry, isSafeModelName, type DirectoryModelRegistryOptions, type ModelInfo, type ModelLoader, type ModelRegistry } from "./model-registry.js";
export { LOAD_STAGES, loadServedModel, MODEL_BACKENDS, type EngineSettings, type LoadOptions, type LoadStage, type ModelBackend } from "./model-loader.js";
export { chatPromptIds, toGemmaTurns } from "./chat-prompt.js";
export { completionPromptIds } from "./completions.js";
export { closeServedModel, type ServedModel, type ServingEngine } from "./served-model.js";
export { ApiError, ConfigurationError, type ApiErrorType, type OpenAiErrorBody } from "./errors.js";
