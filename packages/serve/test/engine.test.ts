// The engine on a small random-weight model: greedy output equal to core's generate(), requests
// batched (and joining mid-decode) giving the same tokens as alone, abort freeing the slot, a
// yield to the event loop per decode step, stop strings and UTF-8-safe chunks, logprobs, stop
// tokens against the token budget (which ends it, and the finish reason), request validation.
import { Gemma2Model, generate, ReferenceBackend, softmax } from "@gemma-ts/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ContextLengthExceededError,
  Engine,
  EngineClosedError,
  InvalidRequestError,
  RequestAbortedError,
  type CompletionRequest,
} from "../src/index.js";
import { collect } from "./support/collect.js";
import { promptIds, smallModel, type SmallModel } from "./support/small-model.js";

let small: SmallModel;
let engine: Engine;

beforeAll(async () => {
  small = await smallModel();
  engine = new Engine({ model: small.model, tokenizer: small.tokenizer, maxBatchSize: 8, contextLength: 256 });
});

afterAll(async () => {
  await engine.close();
});

const prompt = (text: string) => promptIds(small.tokenizer, text);

describe("Engine", () => {
  it("decodes greedily exactly as core's generate()", async () => {
    const ids = prompt("We the people of the United States");
    const expected: number[] = [];
    const stopTokens = [small.tokenizer.special.eos!, small.tokenizer.special.endOfTurn!];
    for await (const token of generate(small.model, ids, { maxNewTokens: 24, temperature: 0, stopTokens })) expected.push(token.token);
    const result = await collect(engine.complete({ promptIds: ids, maxTokens: 24, sampling: { temperature: 0 } }));
    expect(result.ids).toEqual(expected);
    expect(result.usage).toEqual({ promptTokens: ids.length, completionTokens: expected.length, cachedTokens: 0 });
  });

  it("gives each of 6 concurrent requests (some joining mid-decode) the tokens it gets alone", async () => {
    const requests: CompletionRequest[] = [
      { promptIds: prompt("My fellow Americans"), maxTokens: 12, sampling: { temperature: 1, seed: 1 } },
      { promptIds: prompt("The economy"), maxTokens: 20, sampling: { temperature: 0.8, seed: 2, topK: 50 } },
      { promptIds: prompt("Tonight I ask the Congress to"), maxTokens: 7, sampling: { temperature: 1.2, seed: 3, topP: 0.9 } },
      { promptIds: prompt("Health care"), maxTokens: 25, sampling: { temperature: 0 } },
      { promptIds: prompt("Our nation is strong"), maxTokens: 16, sampling: { temperature: 1, seed: 5, repetitionPenalty: 1.3 } },
      { promptIds: prompt("In the year ahead, we will build"), maxTokens: 30, sampling: { temperature: 1, seed: 6, minP: 0.05 }, stopTokens: [] },
    ];
    const alone: number[][] = [];
    for (const request of requests) alone.push((await collect(engine.complete(request))).ids);

    for (const maxBatchSize of [8, 3]) {
      const batched = new Engine({ model: small.model, tokenizer: small.tokenizer, maxBatchSize, contextLength: 256 });
      let peak = 0;
      const watch = setInterval(() => (peak = Math.max(peak, batched.stats().running)), 1);
      // Four start together; the last two join once the longest-running one has streamed 3 chunks.
      let joinLate!: () => void;
      const late = new Promise<void>((resolve) => (joinLate = resolve));
      const results: Promise<number[]>[] = requests.slice(0, 4).map(async (request, i) => {
        const ids: number[] = [];
        for await (const chunk of batched.complete(request).chunks) {
          ids.push(...chunk.tokenIds);
          if (i === 3 && ids.length >= 3) joinLate();
        }
        return ids;
      });
      await late;
      expect(batched.stats().running).toBeGreaterThan(0);
      results.push(...requests.slice(4).map(async (request) => (await collect(batched.complete(request))).ids));
      expect(await Promise.all(results)).toEqual(alone);
      clearInterval(watch);
      expect(peak).toBeGreaterThan(1);
      expect(peak).toBeLessThanOrEqual(maxBatchSize);
      expect(batched.stats()).toEqual({ running: 0, queued: 0, maxBatchSize });
      await batched.close();
    }
  });

  it("prefills a burst of equal-length prompts in one forward pass, each getting the tokens it gets alone", async () => {
    const texts = ["The economy", "Health care", "Our nation", "Tonight we", "My fellow", "The Union"];
    const length = prompt(texts[0]!).length;
    const prompts = texts.map(prompt).filter((ids) => ids.length === length);
    expect(prompts.length).toBeGreaterThanOrEqual(4);
    const requests = prompts.map((promptIds, i): CompletionRequest => ({ promptIds, maxTokens: 6, sampling: { temperature: 1, seed: 10 + i }, stopTokens: [] }));
    const alone: number[][] = [];
    for (const request of requests) alone.push((await collect(engine.complete(request))).ids);

    const passes: number[] = [];
    const counting = Object.create(small.model) as typeof small.model;
    counting.forward = (ids, cache, options) => {
      passes.push(ids.length * (ids[0]?.length ?? 0));
      return small.model.forward(ids, cache, options);
    };
    const batched = new Engine({ model: counting, tokenizer: small.tokenizer, maxBatchSize: 8, contextLength: 256 });
    const results = await Promise.all(requests.map(async (request) => (await collect(batched.complete(request))).ids));
    expect(results).toEqual(alone);
    // The first pass is every prompt at once (rows 0..n-1), then one decode pass per token.
    expect(passes[0]).toBe(prompts.length * length);
    expect(passes.length).toBe(1 + 5);
    await batched.close();
  });

  it("frees the slot at once when a request is aborted, and throws RequestAbortedError to the reader", async () => {
    const local = new Engine({ model: small.model, tokenizer: small.tokenizer, maxBatchSize: 1, contextLength: 256 });
    const controller = new AbortController();
    const running = local.complete({ promptIds: prompt("Abort me"), maxTokens: 200, stopTokens: [], signal: controller.signal });
    const queued = new AbortController();
    const waiting = local.complete({ promptIds: prompt("I wait"), maxTokens: 5, signal: queued.signal });
    let received = 0;
    await expect(async () => {
      for await (const chunk of running.chunks) {
        received += chunk.tokenIds.length;
        if (received >= 3) {
          expect(local.stats()).toMatchObject({ running: 1, queued: 1 });
          queued.abort(); // the waiting request leaves the queue without running
          expect(local.stats()).toMatchObject({ running: 1, queued: 0 });
          controller.abort();
          expect(local.stats()).toMatchObject({ running: 0, queued: 0 });
        }
      }
    }).rejects.toThrow(RequestAbortedError);
    await expect(running.usage).rejects.toThrow(RequestAbortedError);
    await expect(waiting.usage).rejects.toThrow(RequestAbortedError);
    expect(received).toBeLessThan(10);

    // Breaking out of the loop aborts too; the row serves the next request.
    const broken = local.complete({ promptIds: prompt("Stop reading"), maxTokens: 200, stopTokens: [] });
    for await (const chunk of broken.chunks) if (chunk.tokenIds.length > 0) break;
    expect(local.stats().running).toBe(0);
    await expect(broken.usage).rejects.toThrow(RequestAbortedError);
    const after = await collect(local.complete({ promptIds: prompt("Next"), maxTokens: 4, stopTokens: [] }));
    expect(after.usage.completionTokens).toBe(4);
    await local.close();
  });

  it("frees the row of a request aborted mid-prefill, whose computed prefix a later request reuses", async () => {
    const local = new Engine({ model: small.model, tokenizer: small.tokenizer, maxBatchSize: 1, contextLength: 256, maxPrefillChunk: 8 });
    const ids = prompt("Our economy is growing, our deficits are shrinking, and our businesses are creating jobs at a record pace.");
    expect(ids.length).toBeGreaterThan(16);
    const controller = new AbortController();
    const aborted = local.complete({ promptIds: ids, maxTokens: 5, signal: controller.signal });
    setImmediate(() => controller.abort()); // after the first prefill piece has started
    await expect(aborted.usage).rejects.toThrow(RequestAbortedError);
    expect(local.stats().running).toBe(0);
    const reused = await collect(local.complete({ promptIds: ids, maxTokens: 6, sampling: { temperature: 0 }, stopTokens: [] }));
    expect(reused.usage.cachedTokens).toBeGreaterThan(0);
    local.clearPrefixCache();
    const fresh = await collect(local.complete({ promptIds: ids, maxTokens: 6, sampling: { temperature: 0 }, stopTokens: [] }));
    expect(fresh.usage.cachedTokens).toBe(0);
    expect(reused.ids).toEqual(fresh.ids);
    await local.close();
  });

  it("clears the prefix cache between forward passes: a row freed mid-pass keeps none of that pass's ids", async () => {
    // A prompt of three equal 8-id periods, prefilled 8 at a time: the second chunk's ids are the
    // first chunk's, so a row that recorded only them would wrongly offer them as a cached prefix.
    const period = [2, 40, 41, 42, 43, 44, 45, 46];
    const ids = [...period, ...period, ...period];
    const controller = new AbortController();
    let passes = 0;
    const hooked = Object.create(small.model) as typeof small.model;
    hooked.forward = (batch, cache, options) => {
      const logits = small.model.forward(batch, cache, options);
      // While the second chunk's pass runs: its request goes, and the prefix cache is cleared.
      if (++passes === 2) {
        controller.abort();
        local.clearPrefixCache();
      }
      return logits;
    };
    const local = new Engine({ model: hooked, tokenizer: small.tokenizer, maxBatchSize: 1, contextLength: 256, maxPrefillChunk: 8 });
    const aborted = local.complete({ promptIds: ids, maxTokens: 4, stopTokens: [], signal: controller.signal });
    await expect(aborted.usage).rejects.toThrow(RequestAbortedError);
    const greedy = { promptIds: ids, maxTokens: 4, sampling: { temperature: 0 }, stopTokens: [] };
    const next = await collect(local.complete(greedy));
    expect(passes).toBeGreaterThan(2);
    expect(next.usage.cachedTokens).toBe(0);
    expect(next.ids).toEqual((await collect(engine.complete(greedy))).ids);
    await local.close();
  });

  it("yields to the event loop between decode steps, even on a model that never does, and drains on close({ drain: true })", async () => {
    // The reference backend computes synchronously inside its promises: only the engine's own
    // yields let other callbacks run. (The worst event-loop gap in milliseconds is a figure of
    // bench/engine.bench.ts, not an assertion.)
    const model = new Gemma2Model(small.config, small.params, new ReferenceBackend());
    const local = new Engine({ model, tokenizer: small.tokenizer, maxBatchSize: 4, contextLength: 256 });
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const completions = [1, 2, 3, 4].map((seed) => local.complete({ promptIds: prompt("Keep going"), maxTokens: 30, sampling: { seed }, stopTokens: [] }));
    await local.close({ drain: true });
    ticking = false;
    for (const completion of completions) expect((await completion.usage).completionTokens).toBe(30);
    // A stream's first token comes from its prefill, then one per decode step, each turn of the
    // scheduler (prefill, decode) followed by a turn of the event loop: 29 turns at least.
    expect(turns).toBeGreaterThanOrEqual(29);
  });

  it("prefills a long prompt a chunk per turn while the running stream keeps decoding", async () => {
    const local = new Engine({ model: small.model, tokenizer: small.tokenizer, maxBatchSize: 2, contextLength: 256, maxPrefillChunk: 8 });
    const running = local.complete({ promptIds: prompt("Go on"), maxTokens: 60, sampling: { seed: 1 }, stopTokens: [] });
    const reader = running.chunks[Symbol.asyncIterator]();
    let tokens = (await reader.next()).value!.tokenIds.length; // decoding before the long prompt arrives
    const longPrompt = Array.from({ length: 120 }, (_, i) => 4 + ((i * 37) % 400));
    const late = local.complete({ promptIds: longPrompt, maxTokens: 1, sampling: { seed: 2 }, stopTokens: [] });
    let lateDone = false;
    const lateResult = collect(late).then((result) => {
      lateDone = true;
      return result;
    });
    let duringPrefill = 0;
    for (let next = await reader.next(); !next.done; next = await reader.next()) {
      tokens += next.value.tokenIds.length;
      if (!lateDone) duringPrefill += next.value.tokenIds.length;
    }
    expect((await lateResult).usage.completionTokens).toBe(1);
    expect(tokens).toBe(60);
    // 120 tokens in chunks of 8 take 15 turns, each with a decode step of the running stream.
    expect(duringPrefill).toBeGreaterThanOrEqual(12);
    await local.close();
  });

  it("ends before a stop string split across tokens, emitting nothing of it", async () => {
    const ids = prompt("The budget");
    const free = await collect(engine.complete({ promptIds: ids, maxTokens: 30, sampling: { temperature: 1, seed: 11 }, stopTokens: [] }));
    // A stop string made of the end of one token and the start of the next.
    const pieces = free.ids.map((id) => new TextDecoder().decode(engine.vocabulary.bytes(id)));
    const k = pieces.findIndex((piece, i) => i > 2 && i + 2 < 30 && piece.length >= 2 && /^[\x20-\x7e]+$/.test(piece) && /^[\x20-\x7e]{2,}/.test(pieces[i + 1] ?? ""));
    expect(k).toBeGreaterThan(0);
    const stop = pieces[k]!.slice(-2) + pieces[k + 1]!.slice(0, 2);
    const expected = free.text.slice(0, free.text.indexOf(stop));
    const stopped = await collect(engine.complete({ promptIds: ids, maxTokens: 30, sampling: { temperature: 1, seed: 11 }, stopTokens: [], stop: ["never appears", stop] }));
    expect(stopped.text).toBe(expected);
    expect(stopped.finishReason).toBe("stop");
    // Ended by the stop string (complete by token k + 1), well before maxTokens would end it.
    expect(stopped.usage.completionTokens).toBeLessThanOrEqual(k + 2);
    expect(stopped.usage.completionTokens).toBeLessThan(30);
    expect(stopped.ids).toEqual(free.ids.slice(0, stopped.ids.length));
    for (const chunk of stopped.chunks) expect(chunk.text).not.toContain(stop);
  });

  it("streams chunks that never split a UTF-8 character, byte-fallback tokens included", async () => {
    let byteTokens = 0;
    for (const seed of [1, 2, 3, 4]) {
      const result = await collect(engine.complete({ promptIds: prompt("Prices"), maxTokens: 40, sampling: { temperature: 1.5, seed }, stopTokens: [] }));
      const bytes = result.ids.flatMap((id) => [...engine.vocabulary.bytes(id)]);
      byteTokens += result.ids.filter((id) => /^<0x[89A-F][0-9A-F]>$/.test(small.tokenizer.idToToken(id) ?? "")).length;
      for (const chunk of result.chunks) expect(chunk.text.isWellFormed()).toBe(true);
      expect(result.text).toBe(new TextDecoder().decode(Uint8Array.from(bytes)));
    }
    expect(byteTokens).toBeGreaterThan(0); // the random model does emit raw bytes
  });

  it("reports the model's log-probabilities and top alternatives", async () => {
    const ids = prompt("Freedom");
    const result = await collect(engine.complete({ promptIds: ids, maxTokens: 5, sampling: { temperature: 0 }, topLogprobs: 3, stopTokens: [] }));
    const logits = await small.model.forward([ids]);
    const probabilities = softmax(logits.data.subarray(logits.size - small.config.vocabSize));
    const first = result.chunks[0]!.logprobs![0]!;
    expect(first.logprob).toBeCloseTo(Math.log(probabilities[result.ids[0]!]!), 5);
    expect(first.topLogprobs).toHaveLength(3);
    expect(first.topLogprobs[0]!.token).toBe(first.token);
    expect(first.topLogprobs[0]!.logprob).toBe(first.logprob);
    expect(first.topLogprobs[1]!.logprob).toBeLessThanOrEqual(first.topLogprobs[0]!.logprob);
    for (const chunk of result.chunks) expect(chunk.logprobs).toHaveLength(chunk.tokenIds.length);
  });

  it("ends with stop at a stop token before maxTokens, with length when maxTokens or the context comes first", async () => {
    const ids = prompt("Jobs");
    const greedy = { promptIds: ids, sampling: { temperature: 0 } };
    const free = await collect(engine.complete({ ...greedy, maxTokens: 20, stopTokens: [] }));
    expect(free.finishReason).toBe("length");
    expect(free.usage.completionTokens).toBe(20);
    // A stop token at index k, first seen there, and k + 1 < 20: maxTokens is not what ends it.
    const k = free.ids.findIndex((token, i) => i >= 3 && free.ids.indexOf(token) === i);
    expect(k).toBeGreaterThan(0);
    expect(k + 1).toBeLessThan(20);
    const run = (maxTokens: number) => collect(engine.complete({ ...greedy, maxTokens, stopTokens: [free.ids[k]!] }));
    const stopped = await run(20);
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.ids).toEqual(free.ids.slice(0, k + 1));
    expect(stopped.usage.completionTokens).toBe(k + 1);
    // maxTokens ends it one token before the stop token would.
    const short = await run(k);
    expect(short.finishReason).toBe("length");
    expect(short.ids).toEqual(free.ids.slice(0, k));
    // The stop token as the last token maxTokens allows: stop wins.
    const exact = await run(k + 1);
    expect(exact.finishReason).toBe("stop");
    expect(exact.usage.completionTokens).toBe(k + 1);
    for (const result of [free, stopped, short, exact]) expect(result.chunks.slice(0, -1).every((chunk) => chunk.finishReason === undefined)).toBe(true);

    const long = Array.from({ length: 250 }, (_, i) => ids[i % ids.length]!);
    const clamped = await collect(engine.complete({ promptIds: long, maxTokens: 100, stopTokens: [] }));
    expect(clamped.usage.completionTokens).toBe(6);
    expect(clamped.finishReason).toBe("length");
  });

  it("rejects bad requests at once with typed errors", async () => {
    const ids = prompt("x");
    expect(() => engine.complete({ promptIds: [], maxTokens: 4 })).toThrow(InvalidRequestError);
    expect(() => engine.complete({ promptIds: [small.config.vocabSize], maxTokens: 4 })).toThrow(/promptIds\[0\]/);
    expect(() => engine.complete({ promptIds: ids, maxTokens: 0 })).toThrow(InvalidRequestError);
    expect(() => engine.complete({ promptIds: ids, maxTokens: 4, sampling: { temperature: -1 } })).toThrow(/temperature/);
    expect(() => engine.complete({ promptIds: new Array<number>(256).fill(2), maxTokens: 4 })).toThrow(ContextLengthExceededError);
    expect(() => engine.complete({ promptIds: ids, maxTokens: 4, signal: AbortSignal.abort() })).toThrow(RequestAbortedError);
    const closing = new Engine({ model: small.model, tokenizer: small.tokenizer, maxBatchSize: 1, contextLength: 64 });
    const pending = closing.complete({ promptIds: ids, maxTokens: 50, stopTokens: [] });
    await closing.close();
    await expect(pending.usage).rejects.toThrow(EngineClosedError);
    expect(() => closing.complete({ promptIds: ids, maxTokens: 4 })).toThrow(EngineClosedError);
  });
});
