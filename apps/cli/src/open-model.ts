// Opening a model folder for generate and chat: the checkpoint, tokenizer.json and an Engine of
// one row (one conversation at a time), with the loading progress bar on a terminal.
import type { QuantType } from "@gemma-ts/core";
import { loadServedModel, type ModelBackend, type ServedModel } from "@gemma-ts/serve/http";
import { loadProgress } from "./load-progress.js";

export async function openModel(folder: string, options: { threads?: number | undefined; quantize?: QuantType | undefined; backend?: ModelBackend | undefined }): Promise<ServedModel> {
  const progress = loadProgress(folder);
  try {
    return await loadServedModel(folder, {
      maxBatchSize: 1,
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.quantize !== undefined ? { quantize: options.quantize } : {}),
      ...(options.backend !== undefined ? { backend: options.backend } : {}),
      ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    });
  } finally {
    progress.stop();
  }
}
