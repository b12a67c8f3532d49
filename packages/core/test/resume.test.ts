// Training resumes exactly: 12 steps straight, or 6 steps, a save of the weights (a Hugging Face
// folder) and the optimiser state to disk, a fresh trainer loaded from them, and 6 more, give
// bitwise-identical losses and weights.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Gemma2Params, initParams, languageModelBatch, languageModeling, presetConfig, tokenBatch, Trainer, train, warmupCosine } from "../src/index.js";
import { loadHfCheckpoint, loadTrainingState, OnnxBackend, saveHfCheckpoint, saveTrainingState } from "../src/node.js";

const config = { ...presetConfig("gemma2-tiny"), vocabSize: 256 };
const shape = { batchSize: 4, sequenceLength: 16 };
const tokens = Int32Array.from({ length: 4000 }, (_, i) => (i * 31 + (i >> 3)) % 256);
const schedule = warmupCosine({ maxLr: 1e-2, warmupSteps: 3, totalSteps: 12 });

const trainerFor = (params: Gemma2Params) =>
  new Trainer({ config, backend: new OnnxBackend({ intraOpThreads: 1 }), params, objective: languageModeling(), optimizer: { maxGradNorm: 1 } });

const run = (trainer: Trainer, startStep: number, steps: number) =>
  train({ trainer, schedule, batch: (index) => languageModelBatch(tokenBatch(tokens, { ...shape, seed: 3 }, index)), steps, startStep });

describe("resuming training", () => {
  it("gives bitwise the same losses and weights as an uninterrupted run", async () => {
    const straightTrainer = trainerFor(initParams(config, 1));
    const straight = await run(straightTrainer, 0, 12);
    const straightWeights = await straightTrainer.read();

    const folder = await mkdtemp(join(tmpdir(), "gemma-ts-resume-"));
    const first = trainerFor(initParams(config, 1));
    const firstHalf = await run(first, 0, 6);
    const state = await first.state();
    await saveHfCheckpoint(folder, config, state.trainable);
    await saveTrainingState(folder, { step: 6, optimizer: state.optimizer });

    const loaded = await loadHfCheckpoint(folder);
    const training = await loadTrainingState(folder);
    const resumed = trainerFor(loaded.params);
    resumed.load({ trainable: loaded.params, optimizer: training.optimizer });
    const secondHalf = await run(resumed, training.step, 6);

    expect([...firstHalf, ...secondHalf]).toEqual(straight);
    const resumedWeights = await resumed.read();
    for (const [name, tensor] of straightWeights) expect(resumedWeights.get(name)!.data, name).toEqual(tensor.data);
    for (const trainer of [straightTrainer, first, resumed]) await trainer.dispose();
    await rm(folder, { recursive: true, force: true });
  });
});
