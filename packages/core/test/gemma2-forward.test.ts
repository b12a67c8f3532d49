// The Gemma 2 forward pass: the onnxruntime backend against the float64 pure-JS reference on the
// same random model, and KV-cached decoding (ring buffers on sliding layers) against the full
// forward, position by position.
import { describe, expect, it } from "vitest";
import { Gemma2Model, InvalidArgumentError, KVCache, ReferenceBackend, type HostTensor } from "../src/index.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadHfCheckpoint, OnnxBackend, saveHfCheckpoint } from "../src/node.js";
import { maxDifference } from "./support/compare.js";
import { randomModel, sampleIds } from "./support/random-model.js";

function row(logits: HostTensor<"float32">, position: number, vocabSize: number): Float32Array {
  return logits.data.subarray(position * vocabSize, (position + 1) * vocabSize);
}

describe("Gemma 2 forward", () => {
  const { config, params } = randomModel({ slidingWindow: 8 });
  const onnx = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
  const reference = new Gemma2Model(config, params, new ReferenceBackend());

  it("gives the same logits on onnxruntime as on the float64 reference", async () => {
    const ids = [sampleIds(20, config.vocabSize, 3), sampleIds(20, config.vocabSize, 5)];
    const fast = await onnx.forward(ids);
    const slow = await reference.forward(ids);
    expect(fast.shape).toEqual([2, 20, config.vocabSize]);
    expect(maxDifference(fast.data, slow.data)).toBeLessThan(1e-4);
  });

  it("decodes with the KV cache exactly as the full forward, past the sliding window", async () => {
    const ids = sampleIds(30, config.vocabSize, 9);
    const full = await onnx.forward([ids]);
    const cache = new KVCache(config, { capacity: 64 });
    const prompt = await onnx.forward([ids.slice(0, 12)], cache);
    expect(maxDifference(prompt.data, full.data.subarray(0, prompt.size))).toBeLessThan(1e-5);
    for (let t = 12; t < ids.length; t++) {
      const step = await onnx.forward([[ids[t]!]], cache);
      expect(maxDifference(step.data, row(full, t, config.vocabSize)), `position ${t}`).toBeLessThan(1e-5);
    }
    expect(cache.length).toBe(30);
  });

  it("decodes rows at different positions in one batch, as each alone (continuous batching)", async () => {
    const first = sampleIds(14, config.vocabSize, 21);
    const second = sampleIds(5, config.vocabSize, 22);
    const alone = [await onnx.forward([first]), await onnx.forward([second])];
    const cache = new KVCache(config, { batchSize: 2, capacity: 32 });
    // Each sequence is prefilled through its own one-row view; then both decode together.
    await onnx.forward([first.slice(0, 10)], cache.row(0));
    await onnx.forward([second.slice(0, 2)], cache.row(1));
    expect(Array.from(cache.lengths)).toEqual([10, 2]);
    for (let step = 0; step < 3; step++) {
      const logits = await onnx.forward([[first[10 + step]!], [second[2 + step]!]], cache);
      expect(maxDifference(row(logits, 0, config.vocabSize), row(alone[0]!, 10 + step, config.vocabSize))).toBeLessThan(1e-5);
      expect(maxDifference(row(logits, 1, config.vocabSize), row(alone[1]!, 2 + step, config.vocabSize))).toBeLessThan(1e-5);
    }
    // An idle row computes but keeps its cache; a reset row starts a new sequence.
    await onnx.forward([[first[13]!], [0]], cache, { active: [true, false] });
    expect(Array.from(cache.lengths)).toEqual([14, 5]);
    cache.resetRow(1);
    const restarted = await onnx.forward([second.slice(0, 3)], cache.row(1));
    expect(maxDifference(restarted.data, alone[1]!.data.subarray(0, restarted.size))).toBeLessThan(1e-5);
  });

  it("keeps sliding layers' caches at the window size however long the context", () => {
    const cache = new KVCache(config, { capacity: 4096 });
    expect(cache.keys[0]!.shape).toEqual([1, config.numKeyValueHeads, 8, config.headDim]);
    expect(cache.keys[1]!.shape).toEqual([1, config.numKeyValueHeads, 4096, config.headDim]);
  });

  it("gives identical logits after save and load, and close ones from a bf16 copy", async () => {
    const folder = await mkdtemp(join(tmpdir(), "gemma-ts-forward-"));
    const ids = [sampleIds(16, config.vocabSize, 4)];
    const before = await onnx.forward(ids);
    await saveHfCheckpoint(join(folder, "f32"), config, params);
    await saveHfCheckpoint(join(folder, "bf16"), config, params, { dtype: "bfloat16", maxShardBytes: 64 * 1024 });
    const backend = new OnnxBackend({ intraOpThreads: 1 });
    for (const [name, tolerance] of [["f32", 0], ["bf16", 5e-2]] as const) {
      const loaded = await loadHfCheckpoint(join(folder, name));
      const after = await new Gemma2Model(loaded.config, loaded.params, backend).forward(ids);
      if (tolerance === 0) expect(after.data).toEqual(before.data);
      else expect(maxDifference(after.data, before.data)).toBeLessThan(tolerance);
    }
    await rm(folder, { recursive: true, force: true });
  });

  it("rejects ids outside the vocabulary and ragged batches with a typed error", async () => {
    await expect(onnx.forward([[2, config.vocabSize]])).rejects.toThrow(InvalidArgumentError);
    await expect(onnx.forward([[2, -1]])).rejects.toThrow(/outside the vocabulary/);
    await expect(onnx.forward([[2, 3], [4]])).rejects.toThrow(/rectangular/);
  });
});
