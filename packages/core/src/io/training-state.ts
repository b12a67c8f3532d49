// The state a training run needs beyond its weights to resume exactly: the step to continue from
// and AdamW's moments and step count. Saved beside a Hugging Face checkpoint as
// optimizer.safetensors (first.<name>, second.<name>) and trainer_state.json, each written
// atomically; batches are a pure function of (seed, step), so nothing else is needed.
import { join } from "node:path";
import { MalformedCheckpointError } from "../errors.js";
import { HostTensor } from "../tensor/host-tensor.js";
import type { OptimizerMoments } from "../train/trainer.js";
import { atomicWriteFile } from "./atomic-write.js";
import { readJsonFile } from "./json-file.js";
import { readSafetensors, writeSafetensors } from "./safetensors.js";

export const OPTIMIZER_FILE = "optimizer.safetensors";

export const TRAINER_STATE_FILE = "trainer_state.json";

export interface TrainingState {
  /** The next step to run. */
  step: number;
  optimizer: OptimizerMoments;
}

export async function saveTrainingState(dir: string, state: TrainingState): Promise<void> {
  const tensors: [string, HostTensor][] = [];
  for (const [name, { first, second }] of state.optimizer.moments) {
    tensors.push([`first.${name}`, new HostTensor("float32", [first.length], first)]);
    tensors.push([`second.${name}`, new HostTensor("float32", [second.length], second)]);
  }
  await writeSafetensors(join(dir, OPTIMIZER_FILE), tensors);
  const json = { step: state.step, optimizer: { name: "AdamW", step: state.optimizer.step } };
  await atomicWriteFile(join(dir, TRAINER_STATE_FILE), `${JSON.stringify(json, null, 2)}\n`);
}

export async function loadTrainingState(dir: string): Promise<TrainingState> {
  const file = join(dir, TRAINER_STATE_FILE);
  const json = (await readJsonFile(file)) as { step?: unknown; optimizer?: { step?: unknown } } | null;
  const step = json?.step;
  const optimizerStep = json?.optimizer?.step;
  if (!Number.isInteger(step) || !Number.isInteger(optimizerStep)) {
    throw new MalformedCheckpointError(file, "expected integer 'step' and 'optimizer.step'");
  }
  const moments = new Map<string, { first: Float32Array; second: Float32Array }>();
  const tensors = await readSafetensors(join(dir, OPTIMIZER_FILE));
  for (const [key, tensor] of tensors) {
    const [kind, ...rest] = key.split(".");
    const name = rest.join(".");
    if ((kind !== "first" && kind !== "second") || !name) throw new MalformedCheckpointError(join(dir, OPTIMIZER_FILE), `unexpected tensor '${key}'`);
    const entry = moments.get(name) ?? { first: new Float32Array(0), second: new Float32Array(0) };
    entry[kind] = tensor.toFloat32().data;
    moments.set(name, entry);
  }
  for (const [name, { first, second }] of moments) {
    if (first.length !== second.length) throw new MalformedCheckpointError(join(dir, OPTIMIZER_FILE), `moments of '${name}' differ in size`);
  }
  return { step: step as number, optimizer: { step: optimizerStep as number, moments } };
}
