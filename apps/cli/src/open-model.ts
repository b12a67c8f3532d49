// Opening a model folder for generate and chat: the checkpoint, tokenizer.json and an Engine of
// one row (one conversation at a time), with the loading progress bar on a terminal.
import { loadServedModel, type ServedModel } from "@gemma-ts/serve/http";
import { loadProgress } from "./load-progress.js";

export async function openModel(folder: string, threads: number | undefined): Promise<ServedModel> {
  const progress = loadProgress(folder);
  try {
    return await loadServedModel(folder, {
      maxBatchSize: 1,
      ...(threads !== undefined ? { threads } : {}),
      ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    });
  } finally {
    progress.stop();
  }
}
