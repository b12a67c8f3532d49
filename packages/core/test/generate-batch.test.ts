// Batched generation: generateBatch() gives, row for row, the tokens of single-row generations
// with the same seeds, and its per-token log-probabilities are those of a plain forward pass over
// prompt + generated tokens; with prompts of different lengths (some of one length, prefilled
// together, some over several chunks), different sampling options, stops at different steps and
// more requests than rows. The BatchDecoder underneath: a constraint narrowing and ending a
// sequence, a row ended mid-decode, a failing forward pass reported per row.
import { describe, expect, it } from "vitest";
import {
  BatchDecoder,
  Gemma2Model,
  generate,
  generateBatch,
  KVCache,
  type CausalLM,
  type GenerateBatchRequest,
  type GenerateBatchResult,
  type RowStep,
} from "../src/index.js";
import { OnnxBackend } from "../src/node.js";
import { cappedModel, sampleIds } from "./support/random-model.js";

const { config, params } = cappedModel({ slidingWindow: 8 }, 5);
const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
const V = config.vocabSize;

/** One request generated alone: core's generate() on a one-row cache. */
async function alone(request: GenerateBatchRequest): Promise<GenerateBatchResult> {
  const result: GenerateBatchResult = { tokens: [], logprobs: [], finishReason: "length" };
  const options = { maxNewTokens: request.maxNewTokens, stopTokens: request.stopTokens, ...request.sampling };
  for await (const token of generate(model, request.promptIds, options)) {
    result.tokens.push(token.token);
    result.logprobs.push(token.logprob);
    if (token.finishReason) result.finishReason = token.finishReason;
  }
  return result;
}

/** log-softmax of a plain forward pass (no cache) over prompt + tokens, at each generated token. */
async function forwardLogprobs(promptIds: readonly number[], tokens: readonly number[]): Promise<{ logprobs: number[]; argmaxes: number[] }> {
  const logits = (await model.forward([[...promptIds, ...tokens]])).data;
  const logprobs: number[] = [];
  const argmaxes: number[] = [];
  tokens.forEach((token, i) => {
    const row = logits.subarray((promptIds.length - 1 + i) * V, (promptIds.length + i) * V);
    let max = Number.NEGATIVE_INFINITY;
    let best = 0;
    for (let id = 0; id < V; id++) if (row[id]! > max) [max, best] = [row[id]!, id];
    let total = 0;
    for (const value of row) total += Math.exp(value - max);
    logprobs.push(row[token]! - max - Math.log(total));
    argmaxes.push(best);
  });
  return { logprobs, argmaxes };
}

describe("generateBatch", () => {
  // Prompt lengths 3, 11, 11, 19, 6, 2, 14: two share a length (one prefill pass), several take
  // more than one chunk of 4. Two sampled requests share a seed: each row still has its own RNG.
  const base: GenerateBatchRequest[] = [
    { promptIds: sampleIds(3, V, 1), maxNewTokens: 10, sampling: { temperature: 0 } },
    { promptIds: sampleIds(11, V, 2), maxNewTokens: 14, sampling: { temperature: 1, seed: 1 } },
    { promptIds: sampleIds(11, V, 3), maxNewTokens: 9, sampling: { temperature: 0.7, topK: 20, seed: 2 } },
    { promptIds: sampleIds(19, V, 4), maxNewTokens: 16, sampling: { temperature: 1.3, topP: 0.9, seed: 3 } },
    { promptIds: sampleIds(6, V, 5), maxNewTokens: 12, sampling: { temperature: 1, minP: 0.05, repetitionPenalty: 1.3, seed: 4 } },
    { promptIds: sampleIds(2, V, 6), maxNewTokens: 7, sampling: { temperature: 1, frequencyPenalty: 0.5, presencePenalty: 0.2, seed: 5 } },
    { promptIds: sampleIds(14, V, 7), maxNewTokens: 13, sampling: { temperature: 1, seed: 5 } },
  ];

  it("gives row for row the tokens of single-row generations, with the log-probs of a forward pass over them", async () => {
    // A stop token for some requests: a token of their free run from step k on that is new there,
    // so the run stops exactly at that step; the others end by length.
    const free = await Promise.all(base.map(alone));
    const stopFrom = [3, 5, undefined, 2, 9, undefined, 4];
    const requests = base.map((request, i): GenerateBatchRequest => {
      const tokens = free[i]!.tokens;
      const k = stopFrom[i];
      const at = k === undefined ? -1 : tokens.findIndex((token, j) => j >= k && tokens.indexOf(token) === j);
      return at < 0 ? request : { ...request, stopTokens: [tokens[at]!] };
    });
    const expected = await Promise.all(requests.map(alone));
    const stops = expected.flatMap((result) => (result.finishReason === "stop" ? [result.tokens.length] : []));
    expect(new Set(stops).size).toBeGreaterThanOrEqual(3); // stops at different steps
    expect(expected.some((result) => result.finishReason === "length")).toBe(true);

    const batched = await generateBatch(model, requests, { maxBatchSize: 3, maxPrefillChunk: 4 });
    expect(batched.map((r) => r.tokens)).toEqual(expected.map((r) => r.tokens));
    expect(batched.map((r) => r.finishReason)).toEqual(expected.map((r) => r.finishReason));

    let sampledOffArgmax = 0;
    for (const [i, result] of batched.entries()) {
      const reference = await forwardLogprobs(requests[i]!.promptIds, result.tokens);
      expect(result.logprobs).toHaveLength(result.tokens.length);
      result.logprobs.forEach((logprob, t) => expect(Math.abs(logprob - reference.logprobs[t]!)).toBeLessThan(1e-4));
      if (requests[i]!.sampling?.temperature !== 0) sampledOffArgmax += result.tokens.filter((token, t) => token !== reference.argmaxes[t]).length;
      else expect(result.tokens).toEqual(reference.argmaxes);
    }
    // The draws, not just the logits, decide the sampled rows: a shared RNG would change them.
    expect(sampledOffArgmax).toBeGreaterThan(10);
  });

  it("gives the same results at every batch size", async () => {
    // Batches of other sizes and chunks of other lengths round differently: equal tokens, close log-probs.
    const one = await generateBatch(model, base, { maxBatchSize: 1 });
    const all = await generateBatch(model, base, { maxBatchSize: base.length, maxPrefillChunk: 5 });
    expect(all.map((r) => [r.tokens, r.finishReason])).toEqual(one.map((r) => [r.tokens, r.finishReason]));
    all.forEach((result, i) => result.logprobs.forEach((logprob, t) => expect(Math.abs(logprob - one[i]!.logprobs[t]!)).toBeLessThan(1e-4)));
    expect(all.every((result) => result.finishReason === "length")).toBe(true);
  });

  it("rejects bad requests with the field at fault, and stops on abort", async () => {
    const ok = base[0]!;
    await expect(generateBatch(model, [ok, { ...ok, promptIds: [] }])).rejects.toThrow(/requests\[1\]\.promptIds/);
    await expect(generateBatch(model, [{ ...ok, maxNewTokens: 0 }])).rejects.toThrow(/requests\[0\]\.maxNewTokens/);
    await expect(generateBatch(model, [{ ...ok, maxNewTokens: config.maxPositionEmbeddings }])).rejects.toThrow(/requests\[0\]/);
    await expect(generateBatch(model, [ok], { maxBatchSize: 0 })).rejects.toThrow(/maxBatchSize/);
    expect(await generateBatch(model, [])).toEqual([]);
    const controller = new AbortController();
    const counting = Object.create(model) as CausalLM;
    let passes = 0;
    counting.forward = (ids, cache, options) => {
      if (++passes === 3) controller.abort();
      return model.forward(ids, cache, options);
    };
    const error = await generateBatch(counting, base, { signal: controller.signal }).catch((thrown: unknown) => thrown);
    expect(error).toBe(controller.signal.reason);
    // Aborted in the third pass, of the first prefill step (six prompt lengths, six passes): no decode step ran.
    expect(passes).toBe(6);
  });
});

describe("BatchDecoder", () => {
  const drain = async (decoder: BatchDecoder): Promise<RowStep[]> => {
    const steps: RowStep[] = [];
    while (decoder.active > 0) steps.push(...(await decoder.prefill()), ...(await decoder.decode()));
    return steps;
  };

  it("samples only what a constraint allows, and ends where it says the sequence is complete", async () => {
    const decoder = new BatchDecoder(model, new KVCache(config, { batchSize: 2, capacity: 64 }));
    const accepted: number[] = [];
    const evenOnly = {
      mask: (logits: Float32Array, remaining: number) => {
        expect(remaining).toBe(20 - accepted.length);
        return logits.map((value, id) => (id % 2 === 0 ? value : Number.NEGATIVE_INFINITY));
      },
      accept: (token: number) => accepted.push(token) === 5,
    };
    let masks = 0;
    const endsAtOnce = {
      mask: () => {
        masks++;
        return undefined;
      },
      accept: () => false,
    };
    const even = decoder.start(0, { promptIds: sampleIds(5, V, 1), maxNewTokens: 20, sampling: { temperature: 1, seed: 1 }, constraint: evenOnly });
    const ended = decoder.start(1, { promptIds: sampleIds(5, V, 2), maxNewTokens: 20, constraint: endsAtOnce });
    const steps = await drain(decoder);
    expect(even.tokens).toEqual(accepted);
    expect(even.tokens).toHaveLength(5);
    expect(even.tokens.every((token) => token % 2 === 0)).toBe(true);
    expect(even.finishReason).toBe("stop");
    // The log-probabilities are still the model's, not the masked row's.
    const reference = await forwardLogprobs(sampleIds(5, V, 1), even.tokens);
    even.logprobs.forEach((logprob, t) => expect(Math.abs(logprob - reference.logprobs[t]!)).toBeLessThan(1e-4));
    expect([ended.tokens, ended.finishReason, masks]).toEqual([[], "stop", 1]);
    expect(steps.filter((step) => step.row === 1)).toEqual([{ row: 1, fed: sampleIds(5, V, 2), finishReason: "stop" }]);
  });

  it("steps no more a row ended mid-decode, leaving the others' tokens as they were", async () => {
    const requests = [0, 1, 2].map((i) => ({ promptIds: sampleIds(4 + i, V, i), maxNewTokens: 8, sampling: { temperature: 1, seed: i } }));
    const cache = new KVCache(config, { batchSize: 3, capacity: 64 });
    const decoder = new BatchDecoder(model, cache);
    const sequences = requests.map((request, row) => decoder.start(row, request));
    await decoder.prefill();
    const pass = decoder.decode();
    decoder.end(1); // while the pass runs: its cache still gets the token fed, nothing is sampled
    expect(() => decoder.start(1, requests[1]!)).toThrow(/a step is running/);
    expect((await pass).find((step) => step.row === 1)).toEqual({ row: 1, fed: [sequences[1]!.tokens[0]] });
    expect(cache.lengths[1]).toBe(requests[1]!.promptIds.length + 1);
    const steps = await drain(decoder);
    expect(steps.some((step) => step.row === 1)).toBe(false);
    expect(sequences[1]!.tokens).toHaveLength(1);
    expect(sequences[1]!.finished).toBe(false);
    for (const row of [0, 2]) expect(sequences[row]!.tokens).toEqual((await alone(requests[row]!)).tokens);
  });

  it("reports a failed forward pass on each row of its run and ends those sequences", async () => {
    const failing = Object.create(model) as CausalLM;
    failing.forward = (ids, cache, options) => (ids.length > 1 ? Promise.reject(new Error("out of memory")) : model.forward(ids, cache, options));
    const decoder = new BatchDecoder(failing, new KVCache(config, { batchSize: 4, capacity: 64 }));
    // Rows 0 and 1 share a prompt length (one pass over two rows: it fails); row 3 runs alone.
    for (const [row, length] of [[0, 4], [1, 4], [3, 6]] as const) decoder.start(row, { promptIds: sampleIds(length, V, row), maxNewTokens: 3 });
    const steps = await decoder.prefill();
    expect(steps.map((step) => [step.row, step.error instanceof Error ? step.error.message : undefined, step.token !== undefined])).toEqual([
      [0, "out of memory", false],
      [1, "out of memory", false],
      [3, undefined, true],
    ]);
    expect([0, 1, 2, 3].map((row) => decoder.sequence(row) !== undefined)).toEqual([false, false, false, true]);
  });
});
