// Training on the GPU: the Trainer's whole step (forward, backward, gradient clipping and AdamW,
// all graphs) on the WebGPU backend gives onnxruntime's losses step for step, and the same weights.
import { type Backend, HostTensor, initParams, languageModeling, presetConfig, Random, Trainer, type TrainBatch } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { afterAll, describe, expect, it } from "vitest";
import { testBackend } from "./support/webgpu.js";

const setup = await testBackend();
const config = presetConfig("gemma2-tiny");
const STEPS = 20;
const [B, T] = [2, 16];

/** Rows of an arithmetic sequence of tokens from a random start: learnable, so the loss falls. */
function batches(): TrainBatch[] {
  const random = new Random(5);
  return Array.from({ length: STEPS }, () => {
    const start = Math.floor(random.uniform() * config.vocabSize);
    const rows = Array.from({ length: B }, (_, b) => Array.from({ length: T + 1 }, (_, t) => (start + (b * (T + 1) + t) * 7) % config.vocabSize));
    return {
      ids: HostTensor.int64([B, T], rows.flatMap((row) => row.slice(0, T))),
      targets: HostTensor.int64([B, T], rows.flatMap((row) => row.slice(1))),
      mask: HostTensor.float32([B, T], new Float32Array(B * T).fill(1)),
    };
  });
}

async function train(backend: Backend): Promise<{ losses: number[]; weights: Map<string, HostTensor<"float32">> }> {
  const trainer = new Trainer({ config, backend, params: initParams(config, 1), objective: languageModeling(), optimizer: { weightDecay: 0.01, maxGradNorm: 1 } });
  try {
    const losses: number[] = [];
    for (const batch of batches()) losses.push((await trainer.step([batch], 3e-3)).loss);
    return { losses, weights: await trainer.read() };
  } finally {
    await trainer.dispose();
  }
}

describe.skipIf(setup.skip !== undefined)(`training on WebGPU${setup.skip ? ` (skipped: ${setup.skip})` : ""}`, () => {
  const gpu = setup.backend!;
  afterAll(() => gpu.destroy());

  it(`${STEPS} AdamW steps give onnxruntime's losses within 1e-4 per step, and its weights`, async () => {
    const onGpu = await train(gpu);
    const onCpu = await train(new OnnxBackend({ intraOpThreads: 1 }));
    onGpu.losses.forEach((loss, step) => expect(Math.abs(loss - onCpu.losses[step]!), `step ${step}: ${loss} vs ${onCpu.losses[step]}`).toBeLessThan(1e-4));
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(onGpu.losses.slice(-5))).toBeLessThan(mean(onGpu.losses.slice(0, 5)) - 0.1);
    // The weights moved (by ~lr per step) and moved alike on both backends.
    const initial = initParams(config, 1);
    for (const [name, weight] of onGpu.weights) {
      const other = onCpu.weights.get(name)!.data;
      const start = initial.get(name)!.data;
      let moved = 0;
      let apart = 0;
      for (let i = 0; i < weight.size; i++) {
        moved = Math.max(moved, Math.abs(weight.data[i]! - start[i]!));
        apart = Math.max(apart, Math.abs(weight.data[i]! - other[i]!));
      }
      expect(moved, name).toBeGreaterThan(1e-2);
      expect(apart, name).toBeLessThan(1e-4);
    }
  });
});
