// gemma-ts serve: the OpenAI-compatible server (@gemma-ts/api) on one model folder (safetensors on
// the core's graphs, or an exported onnx/model.onnx: --backend, auto-detected by default), served under
// its folder name, or on every model folder of --model-dir. SIGTERM / Ctrl-C shut it down
// gracefully and exit 0. The API key may come from GEMMA_TS_API_KEY instead of the command line.
import { MODEL_BACKENDS, runServer, type ModelBackend } from "@gemma-ts/api";
import { Command, InvalidArgumentError } from "commander";
import { loadProgress, type LoadProgress } from "../load-progress.js";

interface ServeOptions {
  model?: string;
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
}

const integer = (name: string, min: number) => (value: string) => {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isInteger(parsed) || parsed < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return parsed;
};

const backendOption = (value: string): ModelBackend => {
  if (!(MODEL_BACKENDS as readonly string[]).includes(value)) throw new InvalidArgumentError(`--backend must be one of ${MODEL_BACKENDS.join(", ")}`);
  return value as ModelBackend;
};

export function serveCommand(): Command {
  return new Command("serve")
    .description("serve a model folder over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models)")
    .option("--model <dir>", "a model folder (config.json + safetensors or onnx/model.onnx + tokenizer.json), served under its folder name")
    .option("--model-dir <dir>", "serve every model folder in this directory, each loaded on first request")
    .option("--port <n>", "port (0 picks a free one)", integer("--port", 0), 8000)
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--api-key <key>", "require 'Authorization: Bearer <key>' (default: $GEMMA_TS_API_KEY)")
    .option("--max-batch-size <n>", "sequences decoded together per model", integer("--max-batch-size", 1), 8)
    .option("--context-length <n>", "prompt + completion tokens per sequence (default: the model's, at most 4096)", integer("--context-length", 2))
    .option("--threads <n>", "onnxruntime intra-op threads", integer("--threads", 1))
    .option("--backend <backend>", "core (safetensors on the core's graphs), onnx (onnx/model.onnx) or auto: safetensors if present, else onnx", backendOption, "auto")
    .option("--max-tokens-limit <n>", "largest max_tokens a request may ask for", integer("--max-tokens-limit", 1), 2048)
    .option("--max-concurrent <n>", "requests in flight before 429", integer("--max-concurrent", 1), 64)
    .option("--log-level <level>", "fatal, error, warn, info or debug", "warn")
    .action(async (options: ServeOptions) => {
      if (options.model === undefined && options.modelDir === undefined) throw new InvalidArgumentError("give --model or --model-dir");
      const apiKey = options.apiKey ?? process.env.GEMMA_TS_API_KEY;
      const bars: LoadProgress[] = [];
      try {
        const { closed } = await runServer({
          ...(options.model !== undefined ? { models: [options.model] } : {}),
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
          onLoadProgress: (folder) => {
            const bar = loadProgress(folder);
            bars.push(bar);
            return bar.onProgress;
          },
        });
        await closed;
      } finally {
        for (const bar of bars) bar.stop();
      }
    });
}
