// An on-policy run's checkpoint is a `gemma-ts train` checkpoint of a full fine-tune (run-folder.ts
// lays it out, core's saveTrainingState writes the moments): the student's weights, tokenizer.json,
// optimizer.safetensors and trainer_state.json, whose step is the steps done. Every draw of a step
// comes from (seed, step), so that is all a resumed run needs.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Gemma2Config } from "@gemma-ts/core";
import { atomicWriteFile, saveHfCheckpoint, saveTrainingState } from "@gemma-ts/core/node";
import type { OnPolicyState } from "@gemma-ts/distill";
import { loadCheckpoint } from "../training/checkpoint.js";
import { checkpointDir, TOKENIZER_FILE, writeCheckpointFolder } from "../training/run-folder.js";

/** Writes checkpoint-<step>/ into `out` atomically (a temp folder renamed into place); returns its path. */
export async function saveOnPolicyCheckpoint(out: string, state: OnPolicyState, config: Gemma2Config, tokenizerJson: Uint8Array): Promise<string> {
  return writeCheckpointFolder(out, state.step, async (dir) => {
    await mkdir(dir, { recursive: true });
    // Every weight of the student trains, so the trainer's state holds the whole model.
    await saveHfCheckpoint(dir, config, state.trainer.trainable);
    await atomicWriteFile(join(dir, TOKENIZER_FILE), tokenizerJson);
    await saveTrainingState(dir, { step: state.step, optimizer: state.trainer.optimizer });
  });
}

/** The state checkpoint-<step>/ in `out` holds, for OnPolicyDistiller.resume. */
export async function loadOnPolicyCheckpoint(out: string, step: number, config: Gemma2Config): Promise<OnPolicyState> {
  return { step, trainer: await loadCheckpoint(checkpointDir(out, step), step, { config, lora: undefined }) };
}
