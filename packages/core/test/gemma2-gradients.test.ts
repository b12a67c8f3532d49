// Gradients of the whole Gemma 2 training graph (forward, next-token loss, backward) against
// central finite differences of the loss, all in float64 on the reference backend: sampled
// elements of every parameter tensor of a tiny model, relative error <= 1e-3.
import { describe, expect, it } from "vitest";
import { HostTensor, initParams, languageModelBatch, languageModeling, parameterSpecs, Random, traceTrainGraph } from "../src/index.js";
import { finiteDifferenceFailures } from "./support/finite-difference.js";
import { tinyGradientConfig } from "./support/random-model.js";

describe("Gemma 2 gradients", () => {
  it("match finite differences for every parameter tensor", async () => {
    const config = tinyGradientConfig;
    const params = initParams({ ...config, initializerRange: 0.5 }, 3);
    const random = new Random(5);
    for (const [name, tensor] of params) {
      if (name.endsWith("norm.weight")) for (let i = 0; i < tensor.size; i++) tensor.data[i] = random.normal() * 0.3;
    }
    const batch = languageModelBatch(
      [
        [2, 5, 9, 13, 7, 40, 1],
        [2, 33, 12, 12, 8, 19, 47],
      ],
      [
        [1, 1, 1, 1, 1, 1],
        [0, 0, 1, 1, 1, 1],
      ],
    );
    const names = parameterSpecs(config).map((spec) => spec.name);
    const graph = traceTrainGraph({ config, objective: languageModeling(), shapes: new Map(names.map((name) => [name, params.get(name)!.shape])), trainable: names });
    const inputs = { ...batch, lossScale: HostTensor.float32([], [1]), ...Object.fromEntries(params) };
    expect(await finiteDifferenceFailures(graph, inputs, names)).toEqual([]);
  });
});
