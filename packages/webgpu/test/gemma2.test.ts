// Gemma 2 on the WebGPU backend against onnxruntime (the fast CPU backend, itself checked against
// llama.cpp): prefill logits and cached decode past the sliding window, on gemma2-tiny and on a
// random model whose soft-caps decide the output.
import { type Backend, Gemma2Model, initParams, KVCache, presetConfig, ReferenceBackend, type Gemma2Config, type Gemma2Params } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { afterAll, describe, expect, it } from "vitest";
import { cappedModel } from "./support/capped-model.js";
import { testBackend } from "./support/webgpu.js";

const setup = await testBackend();
const onnx = new OnnxBackend({ intraOpThreads: 1 });

const prompt = (seed: number, length: number, vocab: number) => Array.from({ length }, (_, t) => (seed * 131 + t * 37 + t * t) % vocab);

async function logits(backend: Backend, config: Gemma2Config, params: Gemma2Params, ids: number[][]): Promise<Float32Array> {
  const model = new Gemma2Model(config, params, backend, { weights: "inputs" });
  try {
    return (await model.forward(ids)).data;
  } finally {
    await model.dispose();
  }
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe.skipIf(setup.skip !== undefined)(`Gemma 2 on WebGPU${setup.skip ? ` (skipped: ${setup.skip})` : ""}`, () => {
  const gpu = setup.backend!;
  afterAll(() => gpu.destroy());

  it("gemma2-tiny: prefill logits equal onnxruntime's within 1e-5", async () => {
    const config = presetConfig("gemma2-tiny");
    const params = initParams(config, 3);
    const ids = [prompt(1, 20, config.vocabSize), prompt(2, 20, config.vocabSize)];
    expect(maxDifference(await logits(gpu, config, params, ids), await logits(onnx, config, params, ids))).toBeLessThan(1e-5);
  });

  it("a model whose soft-caps decide the output: prefill logits equal onnxruntime's within 1e-4", async () => {
    const { config, params } = cappedModel();
    const ids = [prompt(3, 20, config.vocabSize), prompt(4, 20, config.vocabSize)];
    const [fromGpu, fromOnnx, exact] = [await logits(gpu, config, params, ids), await logits(onnx, config, params, ids), await logits(new ReferenceBackend({ precision: "float64" }), config, params, ids)];
    // The caps engage: a fifth of the logits sit where tanh bends (|logit| > tanh(1) x 30), and
    // without the attention cap the logits move by 0.66, thousands of times the tolerance below.
    const bent = fromOnnx.filter((v) => Math.abs(v) > Math.tanh(1) * config.finalLogitSoftcapping!).length / fromOnnx.length;
    expect(bent).toBeGreaterThan(0.1);
    const uncapped = await logits(onnx, { ...config, attnLogitSoftcapping: null }, params, ids);
    expect(maxDifference(uncapped, fromOnnx)).toBeGreaterThan(0.3);
    expect(maxDifference(fromGpu, fromOnnx)).toBeLessThan(1e-4);
    expect(maxDifference(fromGpu, exact)).toBeLessThan(1e-4);
  });

  it("cached decode past the sliding window equals onnxruntime's, step by step", async () => {
    const { config, params } = cappedModel();
    const ids = [prompt(5, 20, config.vocabSize), prompt(6, 20, config.vocabSize)];
    expect(ids[0]!.length).toBeGreaterThan(2 * config.slidingWindow);
    const models = [new Gemma2Model(config, params, gpu, { weights: "inputs" }), new Gemma2Model(config, params, onnx, { weights: "inputs" })];
    const caches = models.map(() => new KVCache(config, { batchSize: 2, capacity: 32 }));
    const prefill = await Promise.all(models.map((model, m) => model.forward(ids.map((row) => row.slice(0, 6)), caches[m])));
    let worst = maxDifference(prefill[0]!.data, prefill[1]!.data);
    for (let t = 6; t < 20; t++) {
      const step = [];
      for (const [m, model] of models.entries()) step.push(await model.forward(ids.map((row) => [row[t]!]), caches[m]));
      worst = Math.max(worst, maxDifference(step[0]!.data, step[1]!.data));
    }
    expect(worst).toBeLessThan(1e-4);
    for (const model of models) await model.dispose();
  });
});
