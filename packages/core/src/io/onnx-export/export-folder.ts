// exportOnnxFolder: a Gemma 2 checkpoint as the folder Optimum writes for a decoder with a KV cache
// and transformers.js loads (docs/gemma2.md section 5): onnx/model.onnx, config.json,
// generation_config.json, and tokenizer.json / tokenizer_config.json when given. Everything is
// built and checked before the first write; each file is written atomically, config.json last.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { configToHf, type Gemma2Config } from "../../models/gemma2/config.js";
import type { Gemma2Params } from "../../models/gemma2/params.js";
import { atomicWrite, atomicWriteFile } from "../atomic-write.js";
import { writeAll } from "../file-handle-io.js";
import { gemma2OnnxModel, MAX_ONNX_WEIGHT_BYTES, ONNX_DATA_FILE_NAME, onnxWeightBytes } from "./export-graph.js";
import { tokenizerFolderFiles, type TokenizerFiles } from "./tokenizer-files.js";

export interface ExportOnnxFolderOptions {
  tokenizerFiles?: TokenizerFiles;
  /**
   * Weights in onnx/model.onnx_data beside the graph, as Optimum writes models past 2 GiB.
   * Default: only when the float32 weights exceed what one protobuf can hold.
   */
  externalData?: boolean;
}

export interface ExportOnnxFolderResult {
  /** The files written, relative to the folder, in writing order. */
  files: string[];
  /** Size of onnx/model.onnx. */
  modelBytes: number;
}

export const ONNX_MODEL_FILE = "onnx/model.onnx";
export const ONNX_DATA_FILE = `onnx/${ONNX_DATA_FILE_NAME}`;

/** Writes the folder; refuses (typed error, nothing written) missing or misshapen weights and a tokenizer with ids past the vocabulary. */
export async function exportOnnxFolder(outDir: string, config: Gemma2Config, params: Gemma2Params, options: ExportOnnxFolderOptions = {}): Promise<ExportOnnxFolderResult> {
  const externalData = options.externalData ?? onnxWeightBytes(config) > MAX_ONNX_WEIGHT_BYTES;
  // The cheap checks first: the tokenizer, then the weights.
  const tokenizer = options.tokenizerFiles ? tokenizerFolderFiles(options.tokenizerFiles, config) : new Map<string, string | Uint8Array>();
  const { model, external } = gemma2OnnxModel(config, params, { externalData });
  const files = new Map<string, string | Uint8Array>([[ONNX_MODEL_FILE, model], ...tokenizer]);
  files.set("generation_config.json", json(generationConfig(config)));
  files.set("config.json", json(onnxFolderConfig(config, externalData)));

  await mkdir(join(outDir, "onnx"), { recursive: true });
  const written: string[] = [];
  if (external) {
    // The data first: a model.onnx never points at a data file that is not there.
    await atomicWrite(join(outDir, ONNX_DATA_FILE), async (handle) => {
      for (const chunk of external.chunks) await writeAll(handle, chunk.bytes, chunk.offset);
    });
    written.push(ONNX_DATA_FILE);
  }
  for (const [name, data] of files) await atomicWriteFile(join(outDir, name), data);
  return { files: [...written, ...files.keys()], modelBytes: model.byteLength };
}

/**
 * config.json: what transformers writes for the model (configToHf), plus transformers.js_config's
 * dtype, because transformers.js would otherwise look for model_quantized.onnx on wasm (its
 * default there is q8) and only model.onnx (fp32) is written.
 */
function onnxFolderConfig(config: Gemma2Config, externalData: boolean): Record<string, unknown> {
  const transformersJs = externalData ? { dtype: "fp32", use_external_data_format: true } : { dtype: "fp32" };
  return { ...configToHf(config, "float32"), use_cache: true, "transformers.js_config": transformersJs };
}

/** What transformers derives from the model config for generation (as hf-folder.ts writes it). */
function generationConfig(config: Gemma2Config): Record<string, unknown> {
  return {
    _from_model_config: true,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    pad_token_id: config.padTokenId,
  };
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
