// On-policy distillation against a random tiny teacher whose soft-cap engages: a random student
// trained on its own samples ends up clearly closer to the teacher (JSD on its samples of held-out
// prompts); with lambda 0 it trains only on the dataset's responses and never samples; the same
// seed gives the same losses, and a run restored from its state continues with the uninterrupted
// run's losses; and a batch masks exactly the completion positions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initParams } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import {
  distillOnPolicy,
  InvalidArgumentError,
  LocalTeacher,
  OpenAITeacher,
  onPolicyBatch,   OnPolicyDistiller,
  type OnPolicyExample,
  type OnPolicyOptions,
  type OnPolicySampler,
  type OnPolicyState,
  type Teacher,
} from "../src/index.js";
import { cleanup, generatedTexts, logSoftmax, smallTokenizer, tinyConfig, tinyTeacher } from "./support/fixtures.js";
import { serveFolders, writeModelFolder } from "./support/served-teacher.js";

let tokenizer: Tokenizer;
let teacher: LocalTeacher;
let train: OnPolicyExample[];
let heldOut: number[][];

const PROMPT = 6;
const RESPONSE = 6;

function examples(seed: number, count: number): OnPolicyExample[] {
  return generatedTexts(count, seed).map((text) => {
    const ids = [tokenizer.special.bos!, ...tokenizer.encode(text).ids];
    return { prompt: ids.slice(0, PROMPT), response: ids.slice(PROMPT, PROMPT + RESPONSE) };
  });
}

beforeAll(async () => {
  tokenizer = await smallTokenizer();
  // A cap of 15 that still engages (logits reach 14.5), high enough for a peaked teacher: with a cap
  // of 4 the teacher is near uniform and any student is already close to it.
  teacher = tinyTeacher(tokenizer, { ...tinyConfig(tokenizer.vocabSize), finalLogitSoftcapping: 15 });
  train = examples(11, 32).filter((example) => example.response!.length > 0);
  heldOut = examples(12, 16).map((example) => [...example.prompt]);
});

afterAll(async () => {
  await teacher.close();
  await cleanup();
});

function options(overrides: Partial<OnPolicyOptions> = {}): OnPolicyOptions {
  const config = { ...tinyConfig(tokenizer.vocabSize), initializerRange: 0.02, finalLogitSoftcapping: 30 };
  return {
    config,
    params: initParams(config, 9),
    backend: new OnnxBackend({ intraOpThreads: 1 }),
    teacher,
    examples: train,
    batchSize: 4,
    maxNewTokens: RESPONSE,
    k: 16,
    beta: 0.5,
    lambda: 1,
    seed: 3,
    stopTokens: [tokenizer.special.eos!],
    ...overrides,
  };
}

/** core's generateBatch behind a counter. */
function countingSampler(): { sampler: OnPolicySampler; calls: () => number } {
  let calls = 0;
  return {
    sampler: async (model, requests, rest) => {
      calls++;
      const { generateBatch } = await import("@gemma-ts/core");
      return generateBatch(model, requests, rest);
    },
    calls: () => calls,
  };
}

describe("on-policy distillation", () => {
  it("brings the student clearly closer to the teacher on its own samples of held-out prompts", async () => {
    const distiller = new OnPolicyDistiller(options());
    try {
      const before = await distiller.divergence(heldOut, 77);
      for (let step = 0; step < 60; step++) await distiller.train(0.01);
      const after = await distiller.divergence(heldOut, 77);
      expect(before.tokens).toBeGreaterThan(0);
      expect(after.divergence).toBeLessThan(0.7 * before.divergence);
    } finally {
      await distiller.close();
    }
  }, 60_000);

  it("trains only on the dataset's responses with lambda 0, never sampling", async () => {
    const counter = countingSampler();
    const { records } = await distillOnPolicy({ ...options({ lambda: 0, sampler: counter.sampler }), steps: 3, lr: 0.01 });
    expect(counter.calls()).toBe(0);
    expect(records.map((record) => record.onPolicy)).toEqual([false, false, false]);
    // Each row's tokens are its response's (the completion positions of the batch).
    for (const record of records) expect(record.tokens).toBeGreaterThan(0);
  }, 30_000);

  it("samples on every step when the prompts have no responses, whatever lambda says", async () => {
    const counter = countingSampler();
    const prompts = train.map((example) => ({ prompt: example.prompt }));
    const { records } = await distillOnPolicy({ ...options({ lambda: 0, examples: prompts, sampler: counter.sampler }), steps: 2, lr: 0.01 });
    expect(counter.calls()).toBe(2);
    expect(records.every((record) => record.onPolicy)).toBe(true);
  }, 30_000);

  it("is deterministic: the same seed gives the same losses", async () => {
    const run = async () => (await distillOnPolicy({ ...options({ lambda: 0.5 }), steps: 4, lr: 0.01 })).records;
    const first = await run();
    const second = await run();
    expect(first.map((record) => record.onPolicy)).toContain(true);
    expect(first.map((record) => record.onPolicy)).toContain(false);
    expect(second).toEqual(first);
  }, 30_000);

  it("resumes from its state with the uninterrupted run's losses, bit for bit", async () => {
    const lr = (step: number) => 0.01 * (1 + step) ** -0.5;
    const { records } = await distillOnPolicy({ ...options({ lambda: 0.5 }), steps: 5, lr });
    const first = new OnPolicyDistiller(options({ lambda: 0.5 }));
    let state: OnPolicyState;
    try {
      for (let step = 0; step < 2; step++) await first.train(lr(step));
      state = await first.state();
    } finally {
      await first.close();
    }
    expect(state.step).toBe(2);
    // Into a fresh distiller (its own backend and initial weights): steps 2..4 as the run took them.
    const resumed = await distillOnPolicy({ ...options({ lambda: 0.5 }), steps: 5, lr, resume: state });
    expect(resumed.records).toEqual(records.slice(2));
    // Equality means something: the losses move from step to step, the resumed steps sample (the
    // sampling model must hold the loaded weights), and restoring the weights without AdamW's
    // moments gives other losses after the first update.
    expect(new Set(records.map((record) => record.loss)).size).toBe(records.length);
    expect(resumed.records.some((record) => record.onPolicy)).toBe(true);
    const zero = new Map([...state.trainer.optimizer.moments].map(([name, { first: m }]) => [name, { first: new Float32Array(m.length), second: new Float32Array(m.length) }]));
    const withoutMoments = await distillOnPolicy({
      ...options({ lambda: 0.5 }),
      steps: 5,
      lr,
      resume: { step: 2, trainer: { trainable: state.trainer.trainable, optimizer: { step: 0, moments: zero } } },
    });
    expect(withoutMoments.records[0]).toEqual(records[2]);
    expect(withoutMoments.records.slice(1).map((record) => record.loss)).not.toEqual(records.slice(3).map((record) => record.loss));
  }, 60_000);

  it("gives the same losses with the teacher served over HTTP as with the same folder run locally", async () => {
    const folder = await writeModelFolder({ weightSeed: 5 });
    const served = await serveFolders({ tiny: folder.dir });
    const local = await LocalTeacher.fromFolder(folder.dir, { threads: 1 });
    const remote = await OpenAITeacher.connect({ url: served.url, tokenizer: folder.tokenizer, model: "tiny", contextLength: 48 });
    try {
      const run = async (scorer: Teacher) => (await distillOnPolicy({ ...options({ teacher: scorer, lambda: 0.5 }), steps: 3, lr: 0.01 })).records;
      const [fromLocal, fromServed] = [await run(local), await run(remote)];
      expect(fromServed.map((record) => [record.onPolicy, record.tokens])).toEqual(fromLocal.map((record) => [record.onPolicy, record.tokens]));
      fromServed.forEach((record, i) => expect(record.loss).toBeCloseTo(fromLocal[i]!.loss, 4));
    } finally {
      await remote.close();
      await local.close();
      await served.stop();
    }
  }, 30_000);

  it("masks exactly the positions whose next token is a completion token, over right padding", async () => {
    const { batch, tokens } = await onPolicyBatch(teacher, [[2, 10, 11], [2, 12]], [[20, 21], [22, 23, 24, 25]], { k: 4, padTokenId: 0, seed: 0 });
    // Rows: prompt + completion less its last token; mask from the prompt's last position on.
    expect(batch.ids!.shape).toEqual([2, 5]);
    expect(Array.from(batch.ids!.data as BigInt64Array, Number)).toEqual([2, 10, 11, 20, 0, 2, 12, 22, 23, 24]);
    expect(Array.from(batch.mask!.data as Float32Array)).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 1, 1]);
    expect(tokens).toBe(6);
    expect(batch["teacher.ids"]!.shape).toEqual([2, 5, 4]);
    // The padded position carries no teacher mass; real ones carry the top-4's.
    const probs = batch["teacher.probs"]!.data as Float32Array;
    expect(Array.from(probs.subarray(16, 20))).toEqual([0, 0, 0, 0]);
    expect(probs[0]! + probs[1]! + probs[2]! + probs[3]!).toBeGreaterThan(0);
    // Position t carries the teacher's distribution of the token after t (its own forward pass).
    const V = teacher.model.config.vocabSize;
    const logits = await teacher.model.forward([[2, 10, 11, 20]]);
    const ids = batch["teacher.ids"]!.data as BigInt64Array;
    for (let t = 0; t < 4; t++) {
      const reference = logSoftmax(logits.data.subarray(t * V, (t + 1) * V));
      for (let j = 0; j < 4; j++) expect(Math.log(probs[t * 4 + j]!)).toBeCloseTo(reference[Number(ids[t * 4 + j])]!, 4);
      expect(Number(ids[t * 4])).toBe(reference.indexOf(Math.max(...reference)));
    }
  });

  it("refuses a mix of examples with and without responses, and a student of another vocabulary", () => {
    expect(() => new OnPolicyDistiller(options({ examples: [train[0]!, { prompt: train[1]!.prompt }] }))).toThrow(InvalidArgumentError);
    const config = { ...tinyConfig(tokenizer.vocabSize + 1) };
    expect(() => new OnPolicyDistiller(options({ config, params: initParams(config, 1) }))).toThrow(/vocabSize/);
  });
});
