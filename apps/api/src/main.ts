#!/usr/bin/env node
// The server as a standalone program (`node apps/api/dist/main.js --model DIR`); `gemma-ts serve`
// does the same with a progress bar. The API key may come from GEMMA_TS_API_KEY rather than the
// command line, where other users of the machine could read it.
import { CoreError } from "@gemma-ts/core";
import { ServeError } from "@gemma-ts/serve";
import { TokenizerError } from "@gemma-ts/tokenizer";
import { Command, InvalidArgumentError } from "commander";
import { ConfigurationError } from "./errors.js";
import { MODEL_BACKENDS, type ModelBackend } from "./model-loader.js";
import { runServer } from "./run-server.js";

const integer = (name: string, min: number) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return parsed;
};

const backendOption = (value: string): ModelBackend => {
  if (!(MODEL_BACKENDS as readonly string[]).includes(value)) throw new InvalidArgumentError(`--backend must be one of ${MODEL_BACKENDS.join(", ")}`);
  return value as ModelBackend;
};

const program = new Command()
  .name("gemma-ts-api")
  .description("OpenAI-compatible server for Gemma 2 model folders")
  .option("--model <dir...>", "model folders to serve (config.json + safetensors or onnx/model.onnx + tokenizer.json), each under its folder name")
  .option("--model-dir <dir>", "serve every model folder inside this directory, loaded on first request")
  .option("--port <n>", "port (0 picks a free one)", integer("--port", 0), 8000)
  .option("--host <host>", "interface to listen on", "127.0.0.1")
  .option("--api-key <key>", "require 'Authorization: Bearer <key>' (default: $GEMMA_TS_API_KEY)")
  .option("--max-batch-size <n>", "sequences decoded together per model", integer("--max-batch-size", 1), 8)
  .option("--context-length <n>", "prompt + completion tokens per sequence", integer("--context-length", 2))
  .option("--threads <n>", "onnxruntime intra-op threads", integer("--threads", 1))
  .option("--backend <backend>", "core (safetensors on the core's graphs), onnx (onnx/model.onnx) or auto: safetensors if present, else onnx", backendOption, "auto")
  .option("--max-tokens-limit <n>", "largest max_tokens a request may ask for", integer("--max-tokens-limit", 1), 2048)
  .option("--max-concurrent <n>", "requests in flight before 429", integer("--max-concurrent", 1), 64)
  .option("--log-level <level>", "fatal, error, warn, info, debug", "warn")
  .showHelpAfterError();

program.parse();
const options = program.opts<{
  model?: string[];
  modelDir?: string;
  port: number;
  host: string;
  apiKey?: string;
  maxBatchSize: number;
  contextLength?: number;
  threads?: number;
  backend: ModelBackend;
  maxTokensLimit: number;
  maxConcurrent: number;
  logLevel: string;
}>();

try {
  const apiKey = options.apiKey ?? process.env.GEMMA_TS_API_KEY;
  const { closed } = await runServer({
    ...(options.model ? { models: options.model } : {}),
    ...(options.modelDir !== undefined ? { modelDir: options.modelDir } : {}),
    port: options.port,
    host: options.host,
    ...(apiKey ? { apiKey } : {}),
    engine: {
      maxBatchSize: options.maxBatchSize,
      ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      backend: options.backend,
    },
    maxTokensLimit: options.maxTokensLimit,
    maxConcurrent: options.maxConcurrent,
    logLevel: options.logLevel,
  });
  await closed;
} catch (error) {
  if (error instanceof CoreError || error instanceof TokenizerError || error instanceof ServeError || error instanceof ConfigurationError || (error as NodeJS.ErrnoException).syscall) {
    process.stderr.write(`gemma-ts-api: ${(error as Error).message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
