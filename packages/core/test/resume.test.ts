// Training resumes exactly: 12 steps straight, or 6 steps, a save of weights and optimizer state
// to disk, a fresh process-like reload, and 6 more, give bitwise-identical losses and weights.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AdamW, initParams, LanguageModelStep, presetConfig, tokenBatch, train, warmupCosine, type Gemma2Params } from "../src/index.js";
import { loadHfCheckpoint, loadTrainingState, OnnxBackend, saveHfCheckpoint, saveTrainingState } from "../src/node.js";

const config = { ...presetConfig("gemma2-tiny"), vocabSize: 256 };
const shape = { batchSize: 4, sequenceLength: 16 };
const tokens = Int32Array.from({ length: 4000 }, (_, i) => (i * 31 + (i >> 3)) % 256);
const schedule = warmupCosine({ maxLr: 1e-2, warmupSteps: 3, totalSteps: 12 });

async function run(params: Gemma2Params, optimizer: AdamW, startStep: number, steps: number): Promise<number[]> {
  const step = new LanguageModelStep(config, new OnnxBackend({ intraOpThreads: 1 }), shape);
  const losses = await train({
    params,
    optimizer,
    schedule,
    batch: (index) => tokenBatch(tokens, { ...shape, seed: 3 }, index),
    step: (p, batch) => step.run(p, batch),
    steps,
    startStep,
    maxGradNorm: 1,
  });
  await step.dispose();
  return losses;
}

describe("resuming training", () => {
  it("gives bitwise the same losses and weights as an uninterrupted run", async () => {
    const straightParams = initParams(config, 1);
    const straight = await run(straightParams, new AdamW(), 0, 12);

    const folder = await mkdtemp(join(tmpdir(), "gemma-ts-resume-"));
    const firstParams = initParams(config, 1);
    const firstOptimizer = new AdamW();
    const firstHalf = await run(firstParams, firstOptimizer, 0, 6);
    await saveHfCheckpoint(folder, config, firstParams);
    await saveTrainingState(folder, { step: 6, optimizer: firstOptimizer.state });

    const loaded = await loadHfCheckpoint(folder);
    const state = await loadTrainingState(folder);
    const resumedOptimizer = new AdamW();
    resumedOptimizer.state = state.optimizer;
    const secondHalf = await run(loaded.params, resumedOptimizer, state.step, 6);

    expect([...firstHalf, ...secondHalf]).toEqual(straight);
    for (const [name, tensor] of straightParams) expect(loaded.params.get(name)!.data, name).toEqual(tensor.data);
    await rm(folder, { recursive: true, force: true });
  });
});
