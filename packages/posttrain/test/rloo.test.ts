// RLOO: the leave-one-out advantages of a hand-worked example; the rollout layout (which positions
// train); and the policy-gradient loss with its KL term, as the trainer computes it, against the
// same loss worked out by hand from the policy's and the reference's logits.
import { describe, expect, it } from "vitest";
import { Gemma2Model, initParams, policyGradient, presetConfig, Trainer } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { actionLogprobs, policyGradientBatch, RlooTrainer, rlooAdvantages, rollout } from "../src/index.js";

describe("RLOO", () => {
  it("advantages are each reward minus the mean of the other samples of its prompt", () => {
    expect(rlooAdvantages([1, 0, 0.5, 0.5], 2)).toEqual([1, -1, 0, 0]);
    expect(rlooAdvantages([3, 0, 0], 3)).toEqual([3, -1.5, -1.5]);
    // A prompt whose samples all score alike teaches nothing.
    for (const advantage of rlooAdvantages([0.7, 0.7, 0.7, 0.7], 4)) expect(advantage).toBeCloseTo(0, 12);
    expect(() => rlooAdvantages([1, 2, 3], 2)).toThrow(/groups of 2/);
    expect(() => rlooAdvantages([1], 1)).toThrow(/at least 2/);
  });

  it("a rollout trains the positions whose next token is a completion token", () => {
    const rolled = rollout([[2, 10, 11], [2, 12]], [[20, 21], [22, 23, 1]], 0);
    expect(rolled.ids.shape).toEqual([2, 4]);
    expect(Array.from(rolled.ids.data, Number)).toEqual([2, 10, 11, 20, 2, 12, 22, 23]);
    expect(Array.from(rolled.actions.data, Number)).toEqual([10, 11, 20, 21, 12, 22, 23, 1]);
    expect(Array.from(rolled.mask.data)).toEqual([0, 0, 1, 1, 0, 1, 1, 1]);
    expect(rolled.tokens).toBe(5);
  });

  it("the loss is -A log pi(a) + beta (exp(r - l) - (r - l) - 1) averaged over completion tokens", async () => {
    const config = { ...presetConfig("gemma2-tiny"), initializerRange: 0.1 };
    const backend = new OnnxBackend({ intraOpThreads: 1 });
    const policyParams = initParams(config, 1);
    const referenceParams = initParams(config, 2);
    const rolled = rollout([[2, 40, 41], [2, 42], [2, 40, 41], [2, 42]], [[50, 51, 52], [53, 1], [60, 61, 62], [63, 64]], config.padTokenId);
    const rewards = [1, 0.5, 0, 0];
    const advantages = rlooAdvantages(rewards, 2);
    const rows = (ids: typeof rolled.ids) => Array.from({ length: rolled.batchSize }, (_, r) => Array.from(ids.data.subarray(r * rolled.sequenceLength, (r + 1) * rolled.sequenceLength), Number));
    const logprobsOf = async (params: typeof policyParams) => {
      const model = new Gemma2Model(config, params, backend);
      const logits = await model.forward(rows(rolled.ids));
      await model.dispose();
      return actionLogprobs(logits, rolled.actions);
    };
    const policy = await logprobsOf(policyParams);
    const reference = await logprobsOf(referenceParams);
    const beta = 0.3;
    let expected = 0;
    for (let p = 0; p < policy.length; p++) {
      if (!rolled.mask.data[p]) continue;
      const row = Math.floor(p / rolled.sequenceLength);
      const delta = reference[p]! - policy[p]!;
      expected += -advantages[row]! * policy[p]! + beta * (Math.exp(delta) - delta - 1);
    }
    expected /= rolled.tokens;
    // The KL term is not idle: the two models differ.
    expect(Math.max(...Array.from(policy, (l, p) => (rolled.mask.data[p] ? Math.abs(l - reference[p]!) : 0)))).toBeGreaterThan(0.1);

    const trainer = new Trainer({ config, backend, params: policyParams, objective: policyGradient(beta) });
    const { loss } = await trainer.evaluate(policyGradientBatch(rolled, advantages, reference));
    await trainer.dispose();
    // float32 logits against float64 sums: relative agreement.
    expect(Math.abs(loss - expected) / Math.abs(expected)).toBeLessThan(1e-5);
  });
});

describe("RlooTrainer", () => {
  it("resumes exactly: 2 steps, its state into a new trainer, 2 more, as 4 straight (EMA anchor included)", async () => {
    const config = { ...presetConfig("gemma2-tiny"), initializerRange: 0.1 };
    const params = initParams(config, 4);
    const prompts = [[2, 40, 41], [2, 42], [2, 43, 44, 45]];
    // A reward that depends on what was sampled, so the advantages are not all zero.
    const reward = async (samples: readonly { completion: readonly number[] }[]) => samples.map((sample) => sample.completion.filter((id) => id % 3 === 0).length);
    const trainer = () =>
      new RlooTrainer({ config, params, backend: new OnnxBackend({ intraOpThreads: 1 }), prompts, reward, k: 2, promptsPerStep: 2, maxNewTokens: 4, klCoef: 0.1, anchorRate: 0.5, stopTokens: [1], seed: 9 });
    const straight = trainer();
    const records = [];
    for (let step = 0; step < 4; step++) records.push(await straight.train(1e-2));
    const first = trainer();
    const resumedRecords = [await first.train(1e-2), await first.train(1e-2)];
    const state = await first.state();
    await first.close();
    const second = trainer();
    await second.resume(state);
    resumedRecords.push(await second.train(1e-2), await second.train(1e-2));
    expect(resumedRecords).toEqual(records);
    const [a, b] = [await straight.params(), await second.params()];
    for (const [name, tensor] of a) expect(Array.from(b.get(name)!.data)).toEqual(Array.from(tensor.data));
    for (const [name, tensor] of straight.referenceParams()) expect(Array.from(second.referenceParams().get(name)!.data)).toEqual(Array.from(tensor.data));
    expect(records.some((record) => record.gradNorm > 0)).toBe(true);
    await straight.close();
    await second.close();
  });
});
