// The serving flags shared by the standalone server (apps/api, gemma-ts-api) and `gemma-ts serve`:
// one list, one parser, one mapping to runServer's options, so the two commands cannot drift apart.
// The API key may come from GEMMA_TS_API_KEY rather than the command line, where other users of
// the machine could read it; the app hands its environment in (apps read the environment,
// libraries do not).
import { type Command, InvalidArgumentError } from "commander";
import type { QuantType } from "@gemma-ts/core";
import { MODEL_BACKENDS, QUANT_TYPES, type ModelBackend } from "./model-loader.js";
import type { RunServerOptions } from "./run-server.js";

export interface ServeFlags {
  modelDir?: string;
  port: number;
  host: string;
  apiKey?: string;
  maxBatchSize: number;
  contextLength?: number;
  threads?: number;
  backend: ModelBackend;
  quantize?: QuantType;
  maxTokensLimit: number;
  maxConcurrent: number;
  logLevel: string;
  toolPrompt?: string;
}

export const integerFlag = (name: string, min: number) => (value: string) => {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isInteger(parsed) || parsed < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return parsed;
};

export const quantizeFlag = (value: string): QuantType => {
  if (!(QUANT_TYPES as readonly string[]).includes(value)) throw new InvalidArgumentError(`--quantize must be one of ${QUANT_TYPES.join(", ")}`);
  return value as QuantType;
};

const backendFlag = (value: string): ModelBackend => {
  if (!(MODEL_BACKENDS as readonly string[]).includes(value)) throw new InvalidArgumentError(`--backend must be one of ${MODEL_BACKENDS.join(", ")}`);
  return value as ModelBackend;
};

/** Adds every serving flag except --model (one folder for the CLI, several for the server). */
export function addServeFlags(command: Command): Command {
  return command
    .option("--model-dir <dir>", "serve every model folder inside this directory, each loaded on first request")
    .option("--port <n>", "port (0 picks a free one)", integerFlag("--port", 0), 8000)
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--api-key <key>", "require 'Authorization: Bearer <key>' (default: $GEMMA_TS_API_KEY)")
    .option("--max-batch-size <n>", "sequences decoded together per model", integerFlag("--max-batch-size", 1), 8)
    .option("--context-length <n>", "prompt + completion tokens per sequence (default: the model's, at most 4096)", integerFlag("--context-length", 2))
    .option("--threads <n>", "onnxruntime intra-op threads", integerFlag("--threads", 1))
    .option("--backend <backend>", "core (safetensors on the core's graphs, onnxruntime), webgpu (the same graphs on the GPU), onnx (onnx/model.onnx) or auto: safetensors if present, else onnx", backendFlag, "auto")
    .option("--quantize <type>", "quantize the weights while loading: q8 or q4 (llama.cpp's Q8_0 / Q4_0 rounding)", quantizeFlag)
    .option("--max-tokens-limit <n>", "largest max_tokens a request may ask for", integerFlag("--max-tokens-limit", 1), 2048)
    .option("--max-concurrent <n>", "requests in flight before 429", integerFlag("--max-concurrent", 1), 64)
    .option("--log-level <level>", "fatal, error, warn, info or debug", "warn")
    .option("--tool-prompt <file>", "a text file replacing the words around the tool list in prompts with tools ({{tools}}, {{rules}})");
}

/** The environment variables the serving flags fall back on. */
export interface ServeEnvironment {
  /** The API key when --api-key is not given. */
  GEMMA_TS_API_KEY?: string | undefined;
}

/** runServer's options from the flags, for the given model folders; `env` is the app's process.env. */
export function serverOptionsFromFlags(flags: ServeFlags, models: readonly string[], env: ServeEnvironment): RunServerOptions {
  const apiKey = flags.apiKey ?? env.GEMMA_TS_API_KEY;
  return {
    ...(models.length > 0 ? { models } : {}),
    ...(flags.modelDir !== undefined ? { modelDir: flags.modelDir } : {}),
    port: flags.port,
    host: flags.host,
    ...(apiKey ? { apiKey } : {}),
    engine: {
      maxBatchSize: flags.maxBatchSize,
      ...(flags.contextLength !== undefined ? { contextLength: flags.contextLength } : {}),
      ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
      backend: flags.backend,
      ...(flags.quantize !== undefined ? { quantize: flags.quantize } : {}),
    },
    maxTokensLimit: flags.maxTokensLimit,
    maxConcurrent: flags.maxConcurrent,
    logLevel: flags.logLevel,
    ...(flags.toolPrompt !== undefined ? { toolPromptFile: flags.toolPrompt } : {}),
  };
}
