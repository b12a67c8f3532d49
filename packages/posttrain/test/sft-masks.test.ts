// SFT trains on the assistant's reply only: a task chat encoded by the data package counts the
// reply's tokens and its <end_of_turn> and nothing of the prompt, and the prompt's positions carry
// no gradient: any targets there give the same loss and gradient, while changing one reply target
// changes both.
import { describe, expect, it } from "vitest";
import { HostTensor, initParams, languageModeling, presetConfig, Trainer, type TrainBatch } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { encodeDocument } from "@gemma-ts/data";
import { GEMMA_SPECIAL_TOKENS, trainBpe } from "@gemma-ts/tokenizer";
import { taskChat, taskSplit } from "../src/index.js";

describe("SFT masks", () => {
  it("count the reply only, and the prompt's positions carry no gradient", async () => {
    const { train } = taskSplit({ seed: 1, train: 200, eval: 0 });
    const texts = train.flatMap((task) => [task.prompt, task.answer]);
    const tokenizer = (await trainBpe(texts, { vocabSize: 400, specialTokens: [...GEMMA_SPECIAL_TOKENS, "<start_of_turn>", "<end_of_turn>"] })).toTokenizer();
    const task = train.find((candidate) => candidate.kind === "repeat")!;
    const { ids, mask } = encodeDocument(tokenizer, taskChat(task));
    const counted = Array.from(ids).filter((_, i) => mask[i] === 1);
    expect(tokenizer.decode(counted)).toBe(`${task.answer}<end_of_turn>`);

    const config = { ...presetConfig("gemma2-tiny"), vocabSize: 512 };
    const T = ids.length - 1;
    const batch = (targets: number[]): TrainBatch => ({
      ids: HostTensor.int64([1, T], Array.from(ids.subarray(0, T))),
      targets: HostTensor.int64([1, T], targets),
      mask: HostTensor.float32([1, T], Array.from(mask.subarray(1))),
    });
    const step = async (targets: number[]) => {
      const trainer = new Trainer({ config, backend: new OnnxBackend({ intraOpThreads: 1 }), params: initParams(config, 3), objective: languageModeling() });
      const result = await trainer.step([batch(targets)], 1e-3);
      await trainer.dispose();
      return result;
    };
    const targets = Array.from(ids.subarray(1));
    const promptTargets = targets.map((id, t) => (mask[t + 1] === 1 ? id : (id * 7 + 3) % 300));
    const replyAt = targets.findIndex((_, t) => mask[t + 1] === 1);
    const replyTarget = targets.map((id, t) => (t === replyAt ? (id + 1) % 300 : id));
    const [base, prompt, reply] = [await step(targets), await step(promptTargets), await step(replyTarget)];
    expect(promptTargets).not.toEqual(targets);
    expect(prompt).toEqual(base);
    expect(reply.loss).not.toBe(base.loss);
    expect(reply.gradNorm).not.toBe(base.gradNorm);
  });
});
