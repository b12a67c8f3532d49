// The runtime of Gemma2Model: one compiled graph serves every batch size, sequence length and
// cache state; the weights bound as inputs are the caller's memory (no copy), and agree with the
// weights baked in as constants; a large cache capacity changes nothing but memory.
import { describe, expect, it } from "vitest";
import { Gemma2Model, KVCache } from "../src/index.js";
import { OnnxBackend } from "../src/node.js";
import { maxDifference } from "./support/compare.js";
import { randomModel, sampleIds } from "./support/random-model.js";

describe("Gemma2Model runtime", () => {
  const { config, params } = randomModel({ slidingWindow: 8 });

  it("compiles one graph for every shape, with or without a cache", async () => {
    const backend = new OnnxBackend({ intraOpThreads: 1 });
    const model = new Gemma2Model(config, params, backend);
    await model.forward([sampleIds(5, config.vocabSize, 1)]);
    await model.forward([sampleIds(3, config.vocabSize, 2), sampleIds(3, config.vocabSize, 3)]);
    const cache = new KVCache(config, { batchSize: 2, capacity: 40 });
    await model.forward([sampleIds(12, config.vocabSize, 4), sampleIds(12, config.vocabSize, 5)], cache);
    await model.forward([[7], [9]], cache);
    expect(backend.cachedSessions).toBe(1);
    await model.dispose();
    expect(backend.cachedSessions).toBe(0);
  });

  it("gives the same logits with the weights as inputs and as constants", async () => {
    const backend = new OnnxBackend({ intraOpThreads: 1 });
    const asInputs = new Gemma2Model(config, params, backend, { weights: "inputs" });
    const asConstants = new Gemma2Model(config, params, backend, { weights: "constants" });
    const ids = [sampleIds(20, config.vocabSize, 6), sampleIds(20, config.vocabSize, 8)];
    const a = await asInputs.forward(ids);
    const b = await asConstants.forward(ids);
    expect(maxDifference(a.data, b.data)).toBeLessThan(1e-4);
    expect(backend.cachedSessions).toBe(2);
    await asInputs.dispose();
    await asConstants.dispose();
  });

  it("reads the weights from the caller's memory when they are inputs (one copy)", async () => {
    const own = randomModel({ slidingWindow: 8 }, 3);
    const model = new Gemma2Model(own.config, own.params, new OnnxBackend({ intraOpThreads: 1 }), { weights: "inputs" });
    const ids = [sampleIds(6, own.config.vocabSize, 9)];
    const before = await model.forward(ids);
    // Scaling the final norm in place must show in the next call, with no recompile or re-upload.
    const norm = own.params.get("model.norm.weight")!;
    for (let i = 0; i < norm.size; i++) norm.data[i] = norm.data[i]! + 0.5;
    const after = await model.forward(ids);
    expect(maxDifference(before.data, after.data)).toBeGreaterThan(1e-2);
    await model.dispose();
  });

  it("decodes identically whatever the cache capacity: the graph reads only the slots in use", async () => {
    const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
    const ids = sampleIds(24, config.vocabSize, 10);
    const results: Float32Array[] = [];
    for (const capacity of [24, 4096]) {
      const cache = new KVCache(config, { capacity });
      const steps = [await model.forward([ids.slice(0, 16)], cache)];
      for (let t = 16; t < ids.length; t++) steps.push(await model.forward([[ids[t]!]], cache));
      results.push(Float32Array.from(steps.flatMap((step) => Array.from(step.data))));
    }
    expect(maxDifference(results[0]!, results[1]!)).toBeLessThan(1e-6);
    await model.dispose();
  });
});

describe("weights as constants through an external data file", () => {
  it("gives the same logits as the in-memory protobuf, quantized or not", async () => {
    const { config, params } = randomModel({ slidingWindow: 8 });
    const ids = [sampleIds(10, config.vocabSize, 12)];
    for (const quantize of [undefined, "q4"] as const) {
      const options = { weights: "constants" as const, ...(quantize ? { quantize } : {}) };
      const inMemory = await new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }), options).forward(ids);
      const external = await new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1, externalDataMinBytes: 1 }), options).forward(ids);
      expect(maxDifference(inMemory.data, external.data)).toBe(0);
    }
  });
});

describe("KVCache.rows", () => {
  it("is a view of the first rows: decoding on it equals decoding on the whole batch", async () => {
    const { config, params } = randomModel({ slidingWindow: 8 });
    const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
    const prompts = [sampleIds(10, config.vocabSize, 21), sampleIds(6, config.vocabSize, 22)];
    const whole = new KVCache(config, { batchSize: 4, capacity: 32 });
    const prefix = new KVCache(config, { batchSize: 4, capacity: 32 });
    for (const cache of [whole, prefix]) for (const [b, ids] of prompts.entries()) await model.forward([ids], cache.row(b));
    const active = [true, true, false, false];
    for (let step = 0; step < 3; step++) {
      const full = await model.forward([[5 + step], [9 + step], [0], [0]], whole, { active });
      const two = await model.forward([[5 + step], [9 + step]], prefix.rows(2));
      expect(maxDifference(two.data, full.data.subarray(0, two.size))).toBeLessThan(1e-5);
    }
    // The view wrote into the shared memory: the big cache advanced too.
    expect(Array.from(prefix.lengths)).toEqual([13, 9, 0, 0]);
    expect(() => prefix.rows(5)).toThrow(/5 rows from row 0 of a batch of 4/);
    await model.dispose();
  });

  it("is a view of any run of rows: rows 2..3 decode as rows 0..1 of a batch of their own", async () => {
    const { config, params } = randomModel({ slidingWindow: 8 });
    const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
    const prompts = [sampleIds(10, config.vocabSize, 31), sampleIds(6, config.vocabSize, 32)];
    const own = new KVCache(config, { batchSize: 2, capacity: 32 });
    const pool = new KVCache(config, { batchSize: 4, capacity: 32 });
    for (const [b, ids] of prompts.entries()) {
      await model.forward([ids], own.row(b));
      await model.forward([ids], pool.row(2 + b));
    }
    for (let step = 0; step < 3; step++) {
      const expected = await model.forward([[5 + step], [9 + step]], own);
      const run = await model.forward([[5 + step], [9 + step]], pool.rows(2, 2));
      expect(maxDifference(run.data, expected.data)).toBeLessThan(1e-5);
    }
    expect(Array.from(pool.lengths)).toEqual([0, 0, 13, 9]);
    expect(() => pool.rows(2, 3)).toThrow(/2 rows from row 3 of a batch of 4/);
    await model.dispose();
  });
});
