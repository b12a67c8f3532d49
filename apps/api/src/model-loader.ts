// A model folder -> a ServedModel: the Hugging Face checkpoint (config.json + safetensors), its
// tokenizer.json, a Gemma2Model on onnxruntime, and an Engine over them. Shared by the server
// (folders of --model-dir, loaded on first use) and the CLI's generate, chat and serve.
import { readdir, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { Gemma2Model } from "@gemma-ts/core";
import { loadHfCheckpoint, OnnxBackend } from "@gemma-ts/core/node";
import { Engine } from "@gemma-ts/serve";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";
import { ConfigurationError } from "./errors.js";
import type { ServedModel } from "./served-model.js";

export interface EngineSettings {
  /** Sequences decoded together (default 8). */
  maxBatchSize?: number;
  /** Prompt plus completion tokens per sequence (default: the model's maxPositionEmbeddings, at most 4096). */
  contextLength?: number;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  threads?: number;
}

export type LoadStage = "config" | "weights" | "tokenizer" | "engine";
export const LOAD_STAGES: readonly LoadStage[] = ["config", "weights", "tokenizer", "engine"];

export interface LoadOptions extends EngineSettings {
  /** The name it is served under (default: the folder's name). */
  id?: string;
  /** Called as each stage begins, then once with "done"; for progress bars. */
  onProgress?: (stage: LoadStage | "done", detail: { weightBytes: number }) => void;
}

const DEFAULT_CONTEXT = 4096;

export async function loadServedModel(folder: string, options: LoadOptions = {}): Promise<ServedModel> {
  const dir = resolve(folder);
  const config = await stat(join(dir, "config.json")).catch(() => undefined);
  if (!config?.isFile()) throw new ConfigurationError(`${folder} has no config.json; a model folder holds config.json, safetensors weights and tokenizer.json`);
  if (!(await stat(join(dir, "tokenizer.json")).catch(() => undefined))?.isFile()) {
    throw new ConfigurationError(`${folder} has no tokenizer.json; it is needed to encode prompts and decode the output`);
  }
  const weightBytes = await safetensorsBytes(dir);
  const progress = options.onProgress ?? (() => {});
  progress("config", { weightBytes });
  progress("weights", { weightBytes });
  const checkpoint = await loadHfCheckpoint(dir);
  progress("tokenizer", { weightBytes });
  const tokenizer = await loadTokenizer(join(dir, "tokenizer.json"));
  progress("engine", { weightBytes });
  const backend = new OnnxBackend(options.threads === undefined ? {} : { intraOpThreads: options.threads });
  const model = new Gemma2Model(checkpoint.config, checkpoint.params, backend);
  const contextLength = options.contextLength ?? Math.min(checkpoint.config.maxPositionEmbeddings, DEFAULT_CONTEXT);
  const engine = new Engine({ model, tokenizer, maxBatchSize: options.maxBatchSize ?? 8, contextLength });
  progress("done", { weightBytes });
  return {
    id: options.id ?? basename(dir),
    engine,
    tokenizer,
    contextLength,
    created: Math.floor(config.mtimeMs / 1000),
    async close() {
      await engine.close();
      await model.dispose();
    },
  };
}

/** Total size of the weight files, for the progress display (0 when unknown). */
async function safetensorsBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) {
    if (name.endsWith(".safetensors")) total += (await stat(join(dir, name))).size;
  }
  return total;
}
