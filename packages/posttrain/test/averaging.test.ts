// Weight averaging: the average of a model with itself is itself, SLERP at t = 0 / 1 returns the
// endpoints and between them keeps the task vectors' norm where linear interpolation shrinks it,
// LITI at 0 returns the initialisation, and misaligned models are refused.
import { describe, expect, it } from "vitest";
import { type Gemma2Params, initParams, presetConfig } from "@gemma-ts/core";
import { AveragingError, emaUpdate, linearAverage, liti, slerpTaskVectors, warpMerge } from "../src/index.js";

const config = presetConfig("gemma2-tiny");
const model = (seed: number) => initParams({ ...config, initializerRange: 0.5 }, seed);
const equal = (a: Gemma2Params, b: Gemma2Params) => [...a].every(([name, tensor]) => Buffer.from(tensor.data.buffer).equals(Buffer.from(b.get(name)!.data.buffer)));
const taskNorm = (init: Gemma2Params, m: Gemma2Params, name: string) => {
  const x = m.get(name)!.data;
  const z = init.get(name)!.data;
  return Math.sqrt(x.reduce((sum, v, i) => sum + (v - z[i]!) ** 2, 0));
};

describe("weight averaging", () => {
  const init = model(1);
  // Task vectors drawn independently of each other and of the initialisation.
  const a = linearAverage([init, model(2)], [1, 0.1]);
  const b = linearAverage([init, model(3)], [1, 0.1]);
  const name = "model.layers.0.mlp.up_proj.weight";

  it("the average of a model with itself is itself, for any number of copies", () => {
    expect(equal(linearAverage([a, a]), a)).toBe(true);
    expect(equal(linearAverage([a, a, a]), a)).toBe(true);
    expect(equal(linearAverage([a, b]), a)).toBe(false);
    expect(equal(emaUpdate(a, a, 0.01), a)).toBe(true);
  });

  it("SLERP of task vectors returns the endpoints at t = 0 and 1 and keeps their norm between", () => {
    expect(equal(slerpTaskVectors(init, a, b, 0), a)).toBe(true);
    expect(equal(slerpTaskVectors(init, a, b, 1), b)).toBe(true);
    const middle = slerpTaskVectors(init, a, b, 0.5);
    const linear = linearAverage([a, b]);
    // Random task vectors are nearly orthogonal: linear interpolation shrinks them by about 1/sqrt(2).
    const ends = (taskNorm(init, a, name) + taskNorm(init, b, name)) / 2;
    expect(taskNorm(init, middle, name) / ends).toBeGreaterThan(0.99);
    expect(taskNorm(init, linear, name) / ends).toBeLessThan(0.75);
  });

  it("LITI at 0 returns the initialisation, at 1 the model; WARP of one run at eta 1 is that run", () => {
    expect(equal(liti(init, a, 0), init)).toBe(true);
    expect(equal(liti(init, a, 1), a)).toBe(true);
    expect(equal(warpMerge(init, [a], 1), a)).toBe(true);
    expect(equal(warpMerge(init, [a, b], 0), init)).toBe(true);
  });

  it("refuses models of different shapes or weights", () => {
    const other = initParams(presetConfig("gemma2-1m"), 0);
    expect(() => linearAverage([a, other])).toThrow(AveragingError);
    const missing = new Map(a);
    missing.delete(name);
    expect(() => linearAverage([a, missing])).toThrow(/has \d+ weights/);
    expect(() => linearAverage([])).toThrow(/no models/);
  });
});
