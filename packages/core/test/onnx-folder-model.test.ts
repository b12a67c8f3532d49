// OnnxFolderModel: an exported random gemma2-tiny (window 8) run through onnxruntime-node as a
// CausalLM gives Gemma2Model's logits, without a cache, with a KVCache through prefill and decode
// past the sliding window, and for a 2-row batch of different lengths decoded together.
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Gemma2Model, KVCache, MalformedCheckpointError, type CausalLM } from "../src/index.js";
import { exportOnnxFolder, OnnxBackend, OnnxFolderModel } from "../src/node.js";
import { maxDifference } from "./support/compare.js";
import { randomModel, sampleIds } from "./support/random-model.js";

describe("OnnxFolderModel on an exported random gemma2-tiny (window 8)", () => {
  const { config, params } = randomModel({ slidingWindow: 8 }, 3);
  const core = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
  const V = config.vocabSize;
  let folder: string;
  let onnx: OnnxFolderModel;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "gemma-ts-onnx-folder-"));
    await exportOnnxFolder(folder, config, params);
    onnx = await OnnxFolderModel.load(folder, { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await onnx.dispose();
    await core.dispose();
    await rm(folder, { recursive: true, force: true });
  });

  it("reads the config and gives Gemma2Model's logits for a full forward", async () => {
    expect(onnx.config).toEqual(config);
    const ids = sampleIds(20, V, 5);
    const [a, b] = [await onnx.forward([ids]), await core.forward([ids])];
    expect(a.shape).toEqual([1, 20, V]);
    expect(maxDifference(a.data, b.data)).toBeLessThan(1e-4);
  });

  /** Prefill then single-token decodes through a KVCache, on either model. */
  async function prefillDecode(model: CausalLM, prompt: number[], steps: number[]): Promise<Float32Array[]> {
    const cache = new KVCache(config, { capacity: 32 });
    const out = [(await model.forward([prompt], cache)).data];
    for (const token of steps) out.push((await model.forward([[token]], cache)).data);
    expect(cache.length).toBe(prompt.length + steps.length);
    return out;
  }

  it("matches with a KVCache: prefill of 5, then 10 decode steps past the window", async () => {
    const prompt = sampleIds(5, V, 9);
    const steps = sampleIds(11, V, 4).slice(1);
    const [a, b] = [await prefillDecode(onnx, prompt, steps), await prefillDecode(core, prompt, steps)];
    let worst = 0;
    a.forEach((logits, i) => (worst = Math.max(worst, maxDifference(logits, b[i]!))));
    expect(worst).toBeLessThan(1e-4);
  });

  it("matches for 2 rows of different lengths: prefill through cache.row(b), then decode both together", async () => {
    const prompts = [sampleIds(11, V, 3), sampleIds(4, V, 8)];
    const run = async (model: CausalLM) => {
      const cache = new KVCache(config, { batchSize: 2, capacity: 32 });
      const out: Float32Array[] = [];
      for (const [b, prompt] of prompts.entries()) out.push((await model.forward([prompt], cache.row(b))).data);
      for (let step = 0; step < 6; step++) out.push((await model.forward([[10 + step], [40 + step]], cache)).data);
      // One row idle: its cache stays as it was.
      out.push((await model.forward([[7], [9]], cache, { active: [false, true] })).data.subarray(V));
      expect(Array.from(cache.lengths)).toEqual([17, 11]);
      return out;
    };
    const [a, b] = [await run(onnx), await run(core)];
    let worst = 0;
    a.forEach((logits, i) => (worst = Math.max(worst, maxDifference(logits, b[i]!))));
    expect(worst).toBeLessThan(1e-4);
  });

  it("runs a folder exported with external data (onnx/model.onnx_data, as Optimum writes past 2 GiB) to the same logits", async () => {
    const external = join(folder, "external");
    const { files } = await exportOnnxFolder(external, config, params, { externalData: true });
    expect(files[0]).toBe("onnx/model.onnx_data");
    const inline = (await stat(join(folder, "onnx/model.onnx"))).size;
    expect((await stat(join(external, "onnx/model.onnx"))).size).toBeLessThan(inline / 10);
    expect(JSON.parse(await readFile(join(external, "config.json"), "utf8"))["transformers.js_config"].use_external_data_format).toBe(true);
    const fromExternal = await OnnxFolderModel.load(external, { intraOpThreads: 1 });
    const ids = [sampleIds(9, V, 4)];
    expect(maxDifference((await onnx.forward(ids)).data, (await fromExternal.forward(ids)).data)).toBe(0);
    await fromExternal.dispose();
  });

  it("refuses a folder without onnx/model.onnx with a typed error", async () => {
    const empty = await mkdtemp(join(tmpdir(), "gemma-ts-onnx-folder-empty-"));
    await expect(OnnxFolderModel.load(empty)).rejects.toThrow(MalformedCheckpointError);
    await rm(empty, { recursive: true, force: true });
  });
});
