// Generation: greedy decoding with the KV cache against an independent argmax loop over full
// forwards; seeded sampling reproducible; each logits processor on hand-made rows; stop tokens
// against the token budget (which one ends it, and the finish reason), abort, prefix reuse,
// log-probabilities, and sampling frequencies against softmax(logits / T).
import { describe, expect, it } from "vitest";
import {
  applyPenalties,
  applyTemperatureAndTruncation,
  argmax,
  Gemma2Model,
  generate,
  KVCache,
  Random,
  Sampler,
  softmax,
  topIndices,
  type GeneratedToken,
} from "../src/index.js";
import { OnnxBackend } from "../src/node.js";
import { randomModel, sampleIds } from "./support/random-model.js";

const { config, params } = randomModel({ slidingWindow: 8 }, 13);
const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));

async function collect(tokens: AsyncIterable<GeneratedToken>): Promise<GeneratedToken[]> {
  const out: GeneratedToken[] = [];
  for await (const token of tokens) out.push(token);
  return out;
}

describe("generate", () => {
  const prompt = sampleIds(6, config.vocabSize, 17);

  it("decodes greedily exactly like an argmax loop over full forwards", async () => {
    const generated = await collect(generate(model, prompt, { maxNewTokens: 12, temperature: 0 }));
    const ids = [...prompt];
    for (let i = 0; i < 12; i++) {
      const logits = await model.forward([ids]);
      ids.push(argmax(logits.data.subarray(logits.size - config.vocabSize)));
    }
    expect(generated.map((t) => t.token)).toEqual(ids.slice(prompt.length));
  });

  it("reports the model's log-probabilities and the top alternatives", async () => {
    const [first] = await collect(generate(model, prompt, { maxNewTokens: 1, temperature: 0, topLogprobs: 3 }));
    const logits = await model.forward([prompt]);
    const probabilities = softmax(logits.data.subarray(logits.size - config.vocabSize));
    expect(first!.logprob).toBeCloseTo(Math.log(probabilities[first!.token]!), 5);
    expect(first!.topLogprobs!.map((t) => t.token)[0]).toBe(first!.token);
    expect(first!.topLogprobs!.length).toBe(3);
  });

  it("samples reproducibly from a seed", async () => {
    const run = (seed: number) => collect(generate(model, prompt, { maxNewTokens: 10, temperature: 1.5, seed }));
    const a = (await run(1)).map((t) => t.token);
    expect((await run(1)).map((t) => t.token)).toEqual(a);
    expect((await run(2)).map((t) => t.token)).not.toEqual(a);
  });

  it("ends with stop at a stop token before maxNewTokens, and with length when the budget comes first", async () => {
    const greedy = (await collect(generate(model, prompt, { maxNewTokens: 12, temperature: 0 }))).map((t) => t.token);
    // A stop token at index k, first seen there, and k + 1 < 12: the budget is not what ends it.
    const k = greedy.findIndex((token, i) => i >= 3 && greedy.indexOf(token) === i);
    expect(k).toBeGreaterThan(0);
    expect(k + 1).toBeLessThan(12);
    const run = (maxNewTokens: number) => collect(generate(model, prompt, { maxNewTokens, temperature: 0, stopTokens: [greedy[k]!] }));
    const reasons = (tokens: GeneratedToken[]) => tokens.map((t) => t.finishReason);
    const notYet = (n: number) => new Array<undefined>(n).fill(undefined);

    const stopped = await run(12);
    expect(stopped.map((t) => t.token)).toEqual(greedy.slice(0, k + 1));
    expect(reasons(stopped)).toEqual([...notYet(k), "stop"]);
    // The budget ends it one token before the stop token would.
    const short = await run(k);
    expect(short.map((t) => t.token)).toEqual(greedy.slice(0, k));
    expect(reasons(short)).toEqual([...notYet(k - 1), "length"]);
    // The stop token as the last token the budget allows: stop wins.
    const exact = await run(k + 1);
    expect(exact.length).toBe(k + 1);
    expect(reasons(exact)).toEqual([...notYet(k), "stop"]);
  });

  it("throws the signal's AbortError on abort, after the tokens already produced", async () => {
    const controller = new AbortController();
    const tokens: number[] = [];
    const error = await (async () => {
      for await (const token of generate(model, prompt, { maxNewTokens: 20, temperature: 0, signal: controller.signal })) {
        tokens.push(token.token);
        if (tokens.length === 3) controller.abort();
      }
    })().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe("AbortError");
    expect(error).toBe(controller.signal.reason);
    expect(tokens.length).toBe(3);
  });

  it("reuses a cache holding the prompt's prefix, with the same tokens as from scratch", async () => {
    const cache = new KVCache(config, { capacity: 64 });
    const firstTurn = await collect(generate(model, prompt, { maxNewTokens: 4, temperature: 0, cache }));
    const secondPrompt = [...prompt, ...firstTurn.map((t) => t.token), 40, 41, 42];
    const lengthBefore = cache.length;
    const reused = await collect(generate(model, secondPrompt, { maxNewTokens: 5, temperature: 0, cache }));
    const scratch = await collect(generate(model, secondPrompt, { maxNewTokens: 5, temperature: 0 }));
    expect(reused.map((t) => t.token)).toEqual(scratch.map((t) => t.token));
    expect(lengthBefore).toBe(prompt.length + 3); // the last sampled token is not fed back
  });
});

describe("logits processors", () => {
  it("top-k, top-p and min-p keep the right tokens", () => {
    const row = () => Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    const kept = (logits: Float32Array) => Array.from(logits, (v, i) => (v === Number.NEGATIVE_INFINITY ? -1 : i)).filter((i) => i >= 0);
    let logits = row();
    applyTemperatureAndTruncation(logits, { topK: 2 });
    expect(kept(logits)).toEqual([0, 1]);
    logits = row();
    applyTemperatureAndTruncation(logits, { topP: 0.8 });
    expect(kept(logits)).toEqual([0, 1]);
    logits = row();
    applyTemperatureAndTruncation(logits, { topP: 0.81 });
    expect(kept(logits)).toEqual([0, 1, 2]);
    logits = row();
    applyTemperatureAndTruncation(logits, { minP: 0.25 });
    expect(kept(logits)).toEqual([0, 1, 2]);
  });

  it("penalties follow Hugging Face (repetition) and OpenAI (frequency, presence)", () => {
    const logits = Float32Array.from([2, -2, 1]);
    applyPenalties(logits, new Map([[0, 3], [1, 1]]), { repetitionPenalty: 2 });
    expect(Array.from(logits)).toEqual([1, -4, 1]);
    applyPenalties(logits, new Map([[0, 3], [2, 0]]), { frequencyPenalty: 0.5, presencePenalty: 0.25 });
    expect(Array.from(logits)).toEqual([1 - 1.5 - 0.25, -4, 1]);
  });

  it("selects the top k exactly as a full sort does, ties included", () => {
    const random = new Random(1);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(random.uniform() * 2000);
      const values = Float32Array.from({ length: n }, () => Math.round(random.normal() * 4) / 2);
      const k = 1 + Math.floor(random.uniform() * n);
      const sorted = Array.from(values.keys()).sort((a, b) => values[b]! - values[a]! || a - b);
      expect(topIndices(values, k)).toEqual(sorted.slice(0, k));
    }
  });

  it("samples greedily at temperatures too small to divide by (no NaN from logits / 1e-200)", () => {
    const logits = Float32Array.from([0.5, 3, -1, 2.9, 0]);
    for (const temperature of [1e-200, 1e-38, 1e-6]) {
      const sampled = new Sampler({ temperature, seed: 1 }).sample(logits);
      expect(sampled.token, String(temperature)).toBe(1);
      expect(Number.isFinite(sampled.logprob)).toBe(true);
    }
  });

  it("samples in proportion to softmax(logits / T), closely enough to tell T = 0.7 from T = 0.8", () => {
    const logits = Float32Array.from([0, 1, 2, 3]);
    const n = 50_000;
    const sampler = new Sampler({ temperature: 0.7, seed: 3 });
    const counts = new Array<number>(logits.length).fill(0);
    for (let i = 0; i < n; i++) counts[sampler.sample(logits).token]!++;
    // The largest deviation of a token's frequency from its exact probability under temperature t,
    // in standard errors sqrt(p (1 - p) / n). A correct sampler stays under 5 on every token but
    // for a chance of ~2e-6 (4 tokens x 5.7e-7); at this n, T = 0.8 sits ~23 standard errors away.
    const worstDeviation = (t: number): number => {
      const exps = Array.from(logits, (value) => Math.exp(value / t));
      const total = exps.reduce((a, b) => a + b, 0);
      return Math.max(...exps.map((e, i) => {
        const p = e / total;
        return Math.abs(counts[i]! / n - p) / Math.sqrt((p * (1 - p)) / n);
      }));
    };
    expect(worstDeviation(0.7)).toBeLessThan(5);
    expect(worstDeviation(0.8)).toBeGreaterThan(5);
    expect(worstDeviation(0.6)).toBeGreaterThan(5);
    expect(worstDeviation(1)).toBeGreaterThan(5); // temperature ignored
  });
});
