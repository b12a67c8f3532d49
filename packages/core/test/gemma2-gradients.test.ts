// Gradients of the whole Gemma 2 training graph (forward, cross-entropy, backward) against
// central finite differences of the loss, all in float64 on the reference backend: sampled
// elements of every parameter tensor of a tiny model, relative error <= 1e-3.
import { describe, expect, it } from "vitest";
import {
  initParams,
  languageModelStepInputs,
  parameterSpecs,
  presetConfig,
  Random,
  ReferenceBackend,
  traceLanguageModelStep,
  type Float64Tensor,
  type Gemma2Config,
  type HostTensor,
} from "../src/index.js";

const config: Gemma2Config = {
  ...presetConfig("gemma2-tiny"),
  vocabSize: 48,
  hiddenSize: 16,
  intermediateSize: 24,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  headDim: 8,
  queryPreAttnScalar: 8,
  slidingWindow: 3,
  layerTypes: ["sliding_attention", "full_attention"],
  // Small caps so the tanh soft-caps are exercised away from their linear region.
  attnLogitSoftcapping: 2,
  finalLogitSoftcapping: 3,
};

describe("Gemma 2 gradients", () => {
  it("match finite differences for every parameter tensor", async () => {
    const shape = { batchSize: 2, sequenceLength: 6 };
    const params = initParams({ ...config, initializerRange: 0.5 }, 3);
    const random = new Random(5);
    for (const [name, tensor] of params) {
      if (name.endsWith("norm.weight")) for (let i = 0; i < tensor.size; i++) tensor.data[i] = random.normal() * 0.3;
    }
    const batch = [
      [2, 5, 9, 13, 7, 40, 1],
      [2, 33, 12, 12, 8, 19, 47],
    ];
    const executable = await new ReferenceBackend({ precision: "float64" }).compile(traceLanguageModelStep(config, shape));
    const hostInputs = languageModelStepInputs(config, shape, params, batch);
    // Parameters as float64, so the perturbations are not rounded away.
    const inputs: Record<string, HostTensor | Float64Tensor> = { ...hostInputs };
    for (const [name, tensor] of params) inputs[name] = { shape: tensor.shape, data: Float64Array.from(tensor.data) };
    const outputs = executable.runFloat64(inputs);
    const lossAt = (name: string, index: number, delta: number): number => {
      const weights = inputs[name] as Float64Tensor;
      const saved = weights.data[index]!;
      weights.data[index] = saved + delta;
      const loss = executable.runFloat64(inputs).loss!.data[0]!;
      weights.data[index] = saved;
      return loss;
    };
    const eps = 1e-6;
    const failures: string[] = [];
    for (const spec of parameterSpecs(config)) {
      const analytic = outputs[`grad.${spec.name}`]!.data;
      const size = analytic.length;
      // The largest-gradient element plus random ones: never only elements whose gradient is ~0.
      let largest = 0;
      for (let i = 1; i < size; i++) if (Math.abs(analytic[i]!) > Math.abs(analytic[largest]!)) largest = i;
      const picks = [largest, ...Array.from({ length: 3 }, () => Math.floor(random.uniform() * size))];
      for (const index of picks) {
        const numeric = (lossAt(spec.name, index, eps) - lossAt(spec.name, index, -eps)) / (2 * eps);
        const error = Math.abs(numeric - analytic[index]!) / Math.max(Math.abs(numeric), Math.abs(analytic[index]!), 1e-7);
        if (error > 1e-3) failures.push(`${spec.name}[${index}]: analytic ${analytic[index]} numeric ${numeric}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
