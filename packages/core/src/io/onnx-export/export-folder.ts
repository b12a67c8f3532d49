// exportOnnxFolder: a Gemma 2 checkpoint as the folder Optimum writes for a decoder with a KV cache
// and transformers.js loads (docs/gemma2.md section 5): onnx/model.onnx, config.json,
// generation_config.json, and tokenizer.json / tokenizer_config.json when given. Everything is
// built and checked before the first write; each file is written atomically, config.json last.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { configToHf, type Gemma2Config } from "../../models/gemma2/config.js";
import type { Gemma2Params } from "../../models/gemma2/params.js";
import { atomicWriteFile } from "../atomic-write.js";
import { checkFitsOneOnnxFile, gemma2OnnxModel } from "./gemma2-onnx.js";
import { tokenizerFolderFiles, type TokenizerFiles } from "./tokenizer-files.js";

export interface ExportOnnxFolderOptions {
  tokenizerFiles?: TokenizerFiles;
}

export interface ExportOnnxFolderResult {
  /** The files written, relative to the folder, in writing order. */
  files: string[];
  /** Size of onnx/model.onnx. */
  modelBytes: number;
}

export const ONNX_MODEL_FILE = "onnx/model.onnx";

/** Writes the folder; refuses (typed error, nothing written) weights over 2 GiB, missing or misshapen weights, and a tokenizer with ids past the vocabulary. */
export async function exportOnnxFolder(outDir: string, config: Gemma2Config, params: Gemma2Params, options: ExportOnnxFolderOptions = {}): Promise<ExportOnnxFolderResult> {
  // The cheap checks first: the size from the config, then the tokenizer, then the weights.
  checkFitsOneOnnxFile(config);
  const tokenizer = options.tokenizerFiles ? tokenizerFolderFiles(options.tokenizerFiles, config) : new Map<string, string | Uint8Array>();
  const model = gemma2OnnxModel(config, params);
  const files = new Map<string, string | Uint8Array>([[ONNX_MODEL_FILE, model], ...tokenizer]);
  files.set("generation_config.json", json(generationConfig(config)));
  files.set("config.json", json(onnxFolderConfig(config)));

  await mkdir(join(outDir, "onnx"), { recursive: true });
  for (const [name, data] of files) await atomicWriteFile(join(outDir, name), data);
  return { files: [...files.keys()], modelBytes: model.byteLength };
}

/**
 * config.json: what transformers writes for the model (configToHf), plus transformers.js_config's
 * dtype, because transformers.js would otherwise look for model_quantized.onnx on wasm (its
 * default there is q8) and only model.onnx (fp32) is written.
 */
function onnxFolderConfig(config: Gemma2Config): Record<string, unknown> {
  return { ...configToHf(config, "float32"), use_cache: true, "transformers.js_config": { dtype: "fp32" } };
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
