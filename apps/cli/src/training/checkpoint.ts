// A checkpoint holds what the next step needs: the trained weights (the whole model, or with LoRA
// only the adapter in PEFT's layout, the base being the run's input), the optimiser's moments and
// step count, and the tokenizer, so the folder is also a usable model (or adapter) on its own.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Gemma2Config, type Gemma2Params, type LoraConfig, parameterSpecs, type Trainer, type TrainerState } from "@gemma-ts/core";
import { atomicWriteFile, loadHfCheckpoint, loadLoraAdapter, loadTrainingState, saveHfCheckpoint, saveLoraAdapter, saveTrainingState } from "@gemma-ts/core/node";
import { InvalidArgumentError } from "commander";
import { TOKENIZER_FILE, writeCheckpointFolder } from "./run-folder.js";

export interface CheckpointModel {
  config: Gemma2Config;
  lora: LoraConfig | undefined;
  /** What the adapter applies to, as PEFT's base_model_name_or_path records it. */
  baseModel: string;
  tokenizerJson: Uint8Array;
}

export async function saveCheckpoint(out: string, step: number, trainer: Trainer, model: CheckpointModel): Promise<string> {
  const state = await trainer.state();
  return writeCheckpointFolder(out, step, async (dir) => {
    await mkdir(dir, { recursive: true });
    if (model.lora) await saveLoraAdapter(dir, model.lora, state.trainable, { baseModel: model.baseModel });
    else await saveHfCheckpoint(dir, model.config, await modelWeights(trainer, state));
    await atomicWriteFile(join(dir, TOKENIZER_FILE), model.tokenizerJson);
    await saveTrainingState(dir, { step, optimizer: state.optimizer });
  });
}

/** The state a checkpoint folder holds, for Trainer.load. */
export async function loadCheckpoint(dir: string, step: number, model: Pick<CheckpointModel, "config" | "lora">): Promise<TrainerState> {
  const saved = await loadTrainingState(dir);
  if (saved.step !== step) throw new InvalidArgumentError(`${dir} holds the state after step ${saved.step}, not ${step}`);
  const trainable = model.lora ? (await loadLoraAdapter(dir, model.config)).adapters : (await loadHfCheckpoint(dir)).params;
  return { trainable, optimizer: saved.optimizer };
}

/** Every weight of the model: the trained ones from the state, any frozen ones read back. */
export async function modelWeights(trainer: Trainer, state: TrainerState): Promise<Gemma2Params> {
  const weights: Gemma2Params = new Map(state.trainable);
  const frozen = parameterSpecs(trainer.config)
    .map((spec) => spec.name)
    .filter((name) => !weights.has(name));
  if (frozen.length > 0) for (const [name, tensor] of await trainer.read(frozen)) weights.set(name, tensor);
  return weights;
}
