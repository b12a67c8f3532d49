// A model folder -> a ServedModel: a CausalLM, its tokenizer.json, and an Engine over them. The
// model is the Hugging Face checkpoint (config.json + safetensors) as a Gemma2Model on the core's
// graphs, or an exported ONNX folder (config.json + onnx/model.onnx, `gemma-ts convert --to-onnx`)
// as an OnnxFolderModel; by default the folder's files decide. Shared by the server (folders of
// --model-dir, loaded on first use) and the CLI's generate, chat and serve.
import { readdir, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { Gemma2Model, type CausalLM, type QuantType } from "@gemma-ts/core";
import { INDEX_FILE, loadHfCheckpoint, OnnxBackend, OnnxFolderModel, ONNX_MODEL_FILE, SINGLE_FILE } from "@gemma-ts/core/node";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";
import { Engine } from "../engine.js";
import { ConfigurationError } from "./errors.js";
import type { ServedModel } from "./served-model.js";

export interface EngineSettings {
  /** Sequences decoded together (default 8). */
  maxBatchSize?: number;
  /** Prompt plus completion tokens per sequence (default: the model's maxPositionEmbeddings, at most 4096). */
  contextLength?: number;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /**
   * "core": safetensors on the core's graphs (onnxruntime); "webgpu": the same graphs on the GPU
   * (@gemma-ts/webgpu); "onnx": onnx/model.onnx; "auto" (default): safetensors if present, else ONNX.
   */
  backend?: ModelBackend;
  /** Quantize the weights while loading (q8 or q4, as llama.cpp's Q8_0 / Q4_0); core backend only. */
  quantize?: QuantType;
}

export const QUANT_TYPES: readonly QuantType[] = ["q8", "q4"];

export type ModelBackend = "auto" | "core" | "webgpu" | "onnx";
export const MODEL_BACKENDS: readonly ModelBackend[] = ["auto", "core", "webgpu", "onnx"];

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
  if (!config?.isFile()) throw new ConfigurationError(`${folder} has no config.json; a model folder holds config.json, safetensors weights (or onnx/model.onnx) and tokenizer.json`);
  if (!(await isFile(join(dir, "tokenizer.json")))) {
    throw new ConfigurationError(`${folder} has no tokenizer.json; it is needed to encode prompts and decode the output`);
  }
  const backend = await chooseBackend(folder, dir, options.backend ?? "auto");
  const weightBytes = backend === "onnx" ? (await stat(join(dir, ONNX_MODEL_FILE))).size : await safetensorsBytes(dir);
  const progress = options.onProgress ?? (() => {});
  progress("config", { weightBytes });
  progress("weights", { weightBytes });
  if (options.quantize !== undefined && !QUANT_TYPES.includes(options.quantize)) {
    throw new ConfigurationError(`quantize must be one of ${QUANT_TYPES.join(", ")}, got '${String(options.quantize)}'`);
  }
  if (options.quantize && backend === "onnx") throw new ConfigurationError(`${folder}: quantization needs the core backend (safetensors weights), not onnx/model.onnx`);
  const model = await loadModel(dir, backend, options.threads, options.quantize);
  try {
    progress("tokenizer", { weightBytes });
    const tokenizer = await loadTokenizer(join(dir, "tokenizer.json"));
    progress("engine", { weightBytes });
    const contextLength = options.contextLength ?? Math.min(model.config.maxPositionEmbeddings, DEFAULT_CONTEXT);
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
  } catch (error) {
    await model.dispose();
    throw error;
  }
}

/** The checkpoint on the core's graphs, or the exported ONNX graph on its own session. */
async function loadModel(dir: string, backend: "core" | "webgpu" | "onnx", threads: number | undefined, quantize: QuantType | undefined): Promise<CausalLM> {
  if (backend === "onnx") return OnnxFolderModel.load(dir, threads === undefined ? {} : { intraOpThreads: threads });
  // Quantized while read, so the float32 matrices never exist whole.
  const checkpoint = await loadHfCheckpoint(dir, quantize ? { quantize } : {});
  // Dawn is loaded only when asked for: importing it starts a GPU instance.
  const graphs = backend === "webgpu" ? await (await import("@gemma-ts/webgpu/node")).sharedNodeBackend() : new OnnxBackend(threads === undefined ? {} : { intraOpThreads: threads });
  return new Gemma2Model(checkpoint.config, checkpoint.params, graphs, checkpoint.quantized ? { quantized: checkpoint.quantized } : {});
}

/** "auto": safetensors weights -> core, else onnx/model.onnx -> onnx; a forced backend needs its files. */
async function chooseBackend(folder: string, dir: string, wanted: ModelBackend): Promise<"core" | "webgpu" | "onnx"> {
  if (!MODEL_BACKENDS.includes(wanted)) throw new ConfigurationError(`backend must be one of ${MODEL_BACKENDS.join(", ")}, got '${String(wanted)}'`);
  const hasSafetensors = (await isFile(join(dir, SINGLE_FILE))) || (await isFile(join(dir, INDEX_FILE)));
  const hasOnnx = await isFile(join(dir, ONNX_MODEL_FILE));
  if (wanted === "core" || wanted === "webgpu" || (wanted === "auto" && hasSafetensors)) {
    if (!hasSafetensors) throw new ConfigurationError(`${folder} has no ${SINGLE_FILE} or ${INDEX_FILE} for the ${wanted === "webgpu" ? "webgpu" : "core"} backend`);
    return wanted === "webgpu" ? "webgpu" : "core";
  }
  if (!hasOnnx) {
    throw new ConfigurationError(
      wanted === "onnx" ? `${folder} has no ${ONNX_MODEL_FILE} for the onnx backend` : `${folder} has neither safetensors weights (${SINGLE_FILE}, ${INDEX_FILE}) nor ${ONNX_MODEL_FILE}`,
    );
  }
  return "onnx";
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/** Total size of the weight files, for the progress display (0 when unknown). */
async function safetensorsBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) {
    if (name.endsWith(".safetensors")) total += (await stat(join(dir, name))).size;
  }
  return total;
}
