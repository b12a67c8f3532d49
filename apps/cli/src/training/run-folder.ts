// The layout of a training run's folder (--out):
//
//   run.json               the run's settings (run-settings.ts)
//   tokenizer.json         the run's tokenizer (given, the model's, or trained on the data)
//   data/, eval-data/      the inputs tokenized once into token shards (@gemma-ts/data)
//   metrics.jsonl          one record per step, plus evaluation records
//   loss.svg               the loss curve, redrawn at each checkpoint and at the end
//   checkpoint-<step>/     the state after <step> optimiser steps: weights (or the LoRA adapter),
//                          tokenizer.json, optimizer.safetensors, trainer_state.json
//   config.json, model.safetensors, ...   the final model, a Hugging Face folder
//   adapter/               with LoRA: the final adapter in PEFT's layout (the model is the merge)
//
// A checkpoint is written into a hidden temp folder and renamed into place when complete, so a
// checkpoint-<step> folder that exists is whole; a kill mid-write leaves only the temp folder,
// removed on the next start.
import { open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { TRAINER_STATE_FILE } from "@gemma-ts/core/node";

export const METRICS_FILE = "metrics.jsonl";
export const LOSS_PLOT_FILE = "loss.svg";
export const TOKENIZER_FILE = "tokenizer.json";
export const DATA_DIR = "data";
export const EVAL_DATA_DIR = "eval-data";
export const ADAPTER_DIR = "adapter";

const CHECKPOINT = /^checkpoint-(\d+)$/;
const PARTIAL_CHECKPOINT = /^\.checkpoint-\d+\.partial$/;

export function checkpointDir(out: string, step: number): string {
  return join(out, `checkpoint-${step}`);
}

/** Complete checkpoints of a run, by step, ascending. */
export async function checkpointSteps(out: string): Promise<number[]> {
  const steps: number[] = [];
  for (const name of await readdir(out)) {
    const match = CHECKPOINT.exec(name);
    if (match && (await exists(join(out, name, TRAINER_STATE_FILE)))) steps.push(Number(match[1]));
  }
  return steps.sort((a, b) => a - b);
}

/** Writes a checkpoint through `write` into a temp folder, then renames it into place. */
export async function writeCheckpointFolder(out: string, step: number, write: (dir: string) => Promise<void>): Promise<string> {
  const temp = join(out, `.checkpoint-${step}.partial`);
  const final = checkpointDir(out, step);
  await rm(temp, { recursive: true, force: true });
  await write(temp);
  // A folder of this step exists only if an earlier attempt got past this point and then lost the
  // steps after it; the state just written replaces it.
  await rm(final, { recursive: true, force: true });
  await rename(temp, final);
  await syncFolder(out);
  return final;
}

/** Removes all but the newest `keep` checkpoints (0 keeps all). */
export async function pruneCheckpoints(out: string, keep: number): Promise<void> {
  if (keep === 0) return;
  const steps = await checkpointSteps(out);
  for (const step of steps.slice(0, Math.max(0, steps.length - keep))) await rm(checkpointDir(out, step), { recursive: true, force: true });
}

/** Temp folders of checkpoints a killed run never finished. */
export async function removePartialCheckpoints(out: string): Promise<void> {
  for (const name of await readdir(out)) if (PARTIAL_CHECKPOINT.test(name)) await rm(join(out, name), { recursive: true, force: true });
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** Makes a rename in `folder` durable; best effort where folders cannot be opened. */
async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await open(folder, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // see above
  }
}
