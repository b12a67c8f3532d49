// The reward model learns a preference from pairs (chosen replies end with one token, rejected
// with another): held-out pair accuracy goes from chance to near 1; scores of single rows are the
// rewards its pair evaluation reads.
import { describe, expect, it } from "vitest";
import { initParams, presetConfig, Random } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { type PreferencePair, RewardModel } from "../src/index.js";

const config = presetConfig("gemma2-tiny");

function pairs(count: number, seed: number): PreferencePair[] {
  const random = new Random(seed);
  return Array.from({ length: count }, () => {
    const prompt = [2, ...Array.from({ length: 3 + Math.floor(random.uniform() * 5) }, () => 10 + Math.floor(random.uniform() * 400))];
    const reply = Array.from({ length: 1 + Math.floor(random.uniform() * 4) }, () => 10 + Math.floor(random.uniform() * 400));
    return { chosen: [...prompt, ...reply, 7], rejected: [...prompt, ...reply, 8] };
  });
}

describe("reward model", () => {
  it("learns which reply is preferred; single-row scores are the pair evaluation's rewards", async () => {
    const model = new RewardModel({ config, params: initParams(config, 4), backend: new OnnxBackend({ intraOpThreads: 1 }), trainable: true, seed: 1 });
    const heldOut = pairs(32, 99);
    const before = await model.accuracy(heldOut);
    const train = pairs(256, 5);
    for (let step = 0; step < 30; step++) await model.train(train.slice((step * 16) % 256, ((step * 16) % 256) + 16), 3e-3);
    const after = await model.accuracy(heldOut);
    expect(before).toBeLessThan(0.8);
    expect(after).toBeGreaterThan(0.95);

    const [chosen, rejected] = await model.score([heldOut[0]!.chosen, heldOut[0]!.rejected]);
    expect(chosen).toBeGreaterThan(rejected!);
    const three = await model.score([heldOut[0]!.chosen, heldOut[1]!.chosen, heldOut[2]!.chosen]);
    expect(three[0]).toBeCloseTo(chosen!, 4);
    const { valueHead } = await model.weights();
    expect(valueHead.shape).toEqual([1, config.hiddenSize]);
    await model.dispose();
  });
});
