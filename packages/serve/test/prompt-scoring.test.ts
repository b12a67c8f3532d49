// Prompt scoring (CompletionRequest.promptLogprobs) on a small random model whose final soft-cap
// engages: every prompt token's log-probability, rank and top alternatives equal a host
// log-softmax over one plain forward pass of the whole prompt, however the prompt is chunked and
// whatever runs beside it; scoring leaves generation as it was; a score-only request (maxTokens 0).
import { Gemma2Model, ReferenceBackend, topIndices } from "@gemma-ts/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine, InvalidRequestError, type CompletionRequest, type PromptTokenLogprob } from "../src/index.js";
import { collect } from "./support/collect.js";
import { promptIds, smallModel, type SmallModel } from "./support/small-model.js";

/** Low enough that tanh bends the random model's logits (checked below). */
const SOFT_CAP = 0.3;

let small: SmallModel;
let engine: Engine;

beforeAll(async () => {
  small = await smallModel({ finalLogitSoftcapping: SOFT_CAP });
  // Chunks of 5 across a sliding window of 8: a long prompt is scored over several passes.
  engine = new Engine({ model: small.model, tokenizer: small.tokenizer, maxBatchSize: 4, contextLength: 256, maxPrefillChunk: 5 });
});

afterAll(async () => {
  await engine.close();
});

const text = "We hold these truths to be self-evident, that all men are created equal, that they are endowed by their Creator";

/** log-softmax of every position of one uncached forward pass over `ids`, on the host in float64. */
async function reference(ids: readonly number[]): Promise<Float64Array[]> {
  const logits = (await small.model.forward([ids])).data;
  const V = small.config.vocabSize;
  return ids.map((_, t) => {
    const row = logits.subarray(t * V, (t + 1) * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((sum, value) => sum + Math.exp(value - max), 0));
    return Float64Array.from(row, (value) => value - lse);
  });
}

function expectScores(scored: readonly PromptTokenLogprob[], ids: readonly number[], expected: readonly Float64Array[], top: number): void {
  expect(scored.map((entry) => entry.id)).toEqual(ids);
  expect(scored[0]).toMatchObject({ logprob: null, rank: null, topLogprobs: [] });
  for (let i = 1; i < ids.length; i++) {
    const row = expected[i - 1]!;
    const entry = scored[i]!;
    expect(Math.abs(entry.logprob! - row[ids[i]!]!)).toBeLessThan(1e-5);
    expect(entry.rank).toBe(1 + row.filter((value) => value > row[ids[i]!]!).length);
    expect(entry.topLogprobs.map((alt) => alt.id)).toEqual(topIndices(row, top));
    for (const alt of entry.topLogprobs) expect(Math.abs(alt.logprob - row[alt.id]!)).toBeLessThan(1e-5);
  }
}

describe("prompt scoring", () => {
  it("runs on a model whose final soft-cap bends the logits", async () => {
    const ids = promptIds(small.tokenizer, text);
    const capped = (await small.model.forward([ids])).data;
    const uncapped = new Gemma2Model({ ...small.config, finalLogitSoftcapping: null }, small.params, new ReferenceBackend());
    const raw = (await uncapped.forward([ids])).data;
    const largest = (values: Float32Array) => values.reduce((max, value) => Math.max(max, Math.abs(value)), 0);
    expect(largest(raw)).toBeGreaterThan(1.5 * SOFT_CAP);
    expect(largest(capped)).toBeLessThan(SOFT_CAP);
  });

  it("gives every prompt token the log-softmax of a plain forward pass, chunked, within 1e-5", async () => {
    const ids = promptIds(small.tokenizer, text);
    expect(ids.length).toBeGreaterThan(20);
    const result = await collect(engine.complete({ promptIds: ids, maxTokens: 0, promptLogprobs: 6 }));
    expect(result.chunks).toHaveLength(1);
    expect(result.finishReason).toBe("length");
    expect(result.ids).toEqual([]);
    expect(result.usage).toEqual({ promptTokens: ids.length, completionTokens: 0, cachedTokens: 0 });
    expectScores(result.chunks[0]!.promptLogprobs!, ids, await reference(ids), 6);
  });

  it("scores prompts that share a prefix cache, run side by side, and generate after", async () => {
    const prompts = [text, "Four score and seven years ago our fathers", "Ask not what your country can do for you", text.slice(0, 30)].map((p) => promptIds(small.tokenizer, p));
    const plain = await Promise.all(prompts.map((ids) => collect(engine.complete({ promptIds: ids, maxTokens: 6, sampling: { temperature: 0 } }))));
    // One token each for the prompts not scored, so two rows hold exactly those prompts: their
    // next requests reuse them, and the scored prompts take the other rows (least recently used).
    // Prompt 3 is a prefix of prompt 0: scoring 0 from that cached prefix would miss its scores.
    await Promise.all(prompts.filter((_, i) => i % 2 === 1).map((ids) => collect(engine.complete({ promptIds: ids, maxTokens: 1, sampling: { temperature: 0 } }))));
    const results = await Promise.all(
      prompts.map((ids, i) => collect(engine.complete({ promptIds: ids, maxTokens: 6, sampling: { temperature: 0 }, ...(i % 2 === 0 ? { promptLogprobs: 2 } : {}) }))),
    );
    for (let i = 0; i < prompts.length; i++) {
      expect(results[i]!.ids).toEqual(plain[i]!.ids);
      expect(results[i]!.text).toBe(plain[i]!.text);
      if (i % 2 === 1) {
        expect(results[i]!.usage.cachedTokens).toBe(prompts[i]!.length - 1); // the cache was warm
        expect(results[i]!.chunks.some((chunk) => chunk.promptLogprobs)).toBe(false);
        continue;
      }
      // The scores come first, in a chunk of their own, and the prompt was computed afresh.
      expect(results[i]!.chunks[0]!.tokenIds).toEqual([]);
      expect(results[i]!.usage.cachedTokens).toBe(0);
      expectScores(results[i]!.chunks[0]!.promptLogprobs!, prompts[i]!, await reference(prompts[i]!), 2);
    }
  });

  it("scores a one-token prompt as nothing but its token", async () => {
    const bos = small.tokenizer.special.bos!;
    const result = await collect(engine.complete({ promptIds: [bos], maxTokens: 0, promptLogprobs: 3 }));
    expect(result.chunks[0]!.promptLogprobs).toEqual([expect.objectContaining({ id: bos, logprob: null, rank: null, special: true })]);
  });

  it("refuses maxTokens 0 without promptLogprobs, and promptLogprobs out of range", () => {
    const ids = promptIds(small.tokenizer, "Hello");
    const refused = (request: CompletionRequest, field: string) => {
      expect(() => engine.complete(request)).toThrow(InvalidRequestError);
      expect(() => engine.complete(request)).toThrow(field);
    };
    refused({ promptIds: ids, maxTokens: 0 }, "maxTokens");
    refused({ promptIds: ids, maxTokens: 0, promptLogprobs: 65 }, "promptLogprobs");
    refused({ promptIds: ids, maxTokens: 1, promptLogprobs: -1 }, "promptLogprobs");
  });
});
