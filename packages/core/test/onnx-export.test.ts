// The ONNX folder export: onnxruntime runs onnx/model.onnx with the logits of Gemma2Model (full
// sequence, prefill + decode through past_key_values / present, left-padded batches), and
// transformers.js (@huggingface/transformers) loads the folder from disk and generates the same
// greedy tokens as gemma-ts, one prompt at a time and as a left-padded batch.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { AutoModelForCausalLM, AutoTokenizer, env, type Tensor as TjsTensor } from "@huggingface/transformers";
import { trainBpe } from "@gemma-ts/tokenizer";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConfigMismatchError,
  Gemma2Model,
  KVCache,
  languageModelBatch,
  languageModeling,
  presetConfig,
  initParams,
  tokenBatch,
  train,
  Trainer,
  warmupCosine,
  type Gemma2Config,
  type Gemma2Params,
  type HostTensor,
} from "../src/index.js";
import { exportOnnxFolder, gemma2OnnxSignature, OnnxBackend } from "../src/node.js";
import { maxDifference } from "./support/compare.js";
import { randomModel, sampleIds } from "./support/random-model.js";
import { sotuSpeeches } from "./support/sotu-tokens.js";

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "gemma-ts-onnx-export-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** Runs the exported model as transformers.js does: past_key_values in, present out. */
class ExportedModel {
  private constructor(
    private readonly session: InferenceSession,
    private readonly config: Gemma2Config,
  ) {}

  static async open(dir: string, config: Gemma2Config): Promise<ExportedModel> {
    return new ExportedModel(await InferenceSession.create(join(dir, "onnx", "model.onnx"), { intraOpNumThreads: 1 }), config);
  }

  /** An empty cache: past_sequence_length 0, as transformers.js starts. */
  emptyPast(batch: number): Record<string, Tensor> {
    const { numKeyValueHeads: K, headDim: h } = this.config;
    const past: Record<string, Tensor> = {};
    for (let i = 0; i < this.config.numHiddenLayers; i++) {
      for (const part of ["key", "value"]) past[`past_key_values.${i}.${part}`] = new Tensor("float32", new Float32Array(0), [batch, K, 0, h]);
    }
    return past;
  }

  /** ids [B][T], mask [B][P+T], positions [B][T]; returns logits [B*T*V] and the next past. */
  async run(ids: number[][], mask: number[][], positions: number[][], past: Record<string, Tensor>) {
    const B = ids.length;
    const int64 = (rows: number[][]) => new Tensor("int64", BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [B, rows[0]!.length]);
    const out = await this.session.run({ input_ids: int64(ids), attention_mask: int64(mask), position_ids: int64(positions), ...past });
    const next: Record<string, Tensor> = {};
    for (const [name, tensor] of Object.entries(out)) if (name.startsWith("present.")) next[name.replace("present.", "past_key_values.")] = tensor;
    return { logits: out.logits!.data as Float32Array, dims: out.logits!.dims, past: next };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** transformers.js's position_ids: cumsum(mask) - 1, and 1 where the mask is 0. */
function positionIds(mask: number[][]): number[][] {
  return mask.map((row) => {
    let count = 0;
    return row.map((m) => (m ? count++ : 1));
  });
}

describe("exportOnnxFolder on a random gemma2-tiny (window 8)", () => {
  const { config, params } = randomModel({ slidingWindow: 8 }, 3);
  const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
  const ids = sampleIds(20, config.vocabSize, 5);
  let exported: ExportedModel;
  let full: HostTensor<"float32">;
  const V = config.vocabSize;

  beforeAll(async () => {
    const dir = join(folder, "tiny");
    await exportOnnxFolder(dir, config, params);
    exported = await ExportedModel.open(dir, config);
    full = await model.forward([ids]);
  });
  afterAll(async () => {
    await exported.release();
    await model.dispose();
  });

  it("declares Optimum's inputs and outputs with symbolic dims", async () => {
    const session = await InferenceSession.create(join(folder, "tiny", "onnx", "model.onnx"));
    const signature = gemma2OnnxSignature(config);
    expect(session.inputNames).toEqual(signature.inputs.map((input) => input.name));
    expect(session.outputNames).toEqual(signature.outputs.map((output) => output.name));
    const metadata = Object.fromEntries(session.inputMetadata.map((m) => [m.name, m]));
    expect(metadata["past_key_values.3.value"]).toMatchObject({ isTensor: true, type: "float32", shape: ["batch_size", 2, "past_sequence_length", 16] });
    expect(metadata["attention_mask"]).toMatchObject({ type: "int64", shape: ["batch_size", "past_sequence_length + sequence_length"] });
    await session.release();
  });

  it("gives Gemma2Model's logits for a 20-token sequence", async () => {
    const mask = [ids.map(() => 1)];
    const out = await exported.run([ids], mask, positionIds(mask), exported.emptyPast(1));
    expect(out.dims).toEqual([1, 20, V]);
    const difference = maxDifference(out.logits, full.data);
    console.log(`full sequence: max |onnx - Gemma2Model| = ${difference.toExponential(2)}`);
    expect(difference).toBeLessThan(1e-4);
    // The window matters at 20 tokens, so the sliding mask is really tested.
    const wideModel = new Gemma2Model({ ...config, slidingWindow: 64 }, params, new OnnxBackend({ intraOpThreads: 1 }));
    expect(maxDifference((await wideModel.forward([ids])).data, full.data)).toBeGreaterThan(1e-2);
    await wideModel.dispose();
  });

  it("gives the same logits through prefill and step-by-step decode with present -> past", async () => {
    let past = exported.emptyPast(1);
    const prefill = 6;
    const mask = [ids.slice(0, prefill).map(() => 1)];
    let out = await exported.run([ids.slice(0, prefill)], mask, positionIds(mask), past);
    let worst = maxDifference(out.logits, full.data.subarray(0, prefill * V));
    past = out.past;
    for (let t = prefill; t < ids.length; t++) {
      expect(past["past_key_values.0.key"]!.dims).toEqual([1, config.numKeyValueHeads, t, config.headDim]);
      out = await exported.run([[ids[t]!]], [Array.from({ length: t + 1 }, () => 1)], [[t]], past);
      worst = Math.max(worst, maxDifference(out.logits, full.data.subarray(t * V, (t + 1) * V)));
      past = out.past;
    }
    console.log(`prefill ${prefill} + ${ids.length - prefill} decode steps: max difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });

  it("gives each row of a left-padded batch its own logits, in prefill and in decode", async () => {
    const short = sampleIds(13, V, 8);
    const pad = ids.length - short.length;
    const batch = [ids, [...Array.from({ length: pad }, () => config.padTokenId), ...short]];
    const mask = [ids.map(() => 1), [...Array.from({ length: pad }, () => 0), ...short.map(() => 1)]];
    const out = await exported.run(batch, mask, positionIds(mask), exported.emptyPast(2));
    const alone = await model.forward([short]);
    const T = ids.length;
    let worst = maxDifference(out.logits.subarray(0, T * V), full.data);
    worst = Math.max(worst, maxDifference(out.logits.subarray((T + pad) * V, 2 * T * V), alone.data));
    // One decode step on top: the padded cache and the grown mask.
    const next = [7, 9];
    const stepMask = mask.map((row) => [...row, 1]);
    const step = await exported.run([[next[0]!], [next[1]!]], stepMask, positionIds(stepMask).map((row) => row.slice(-1)), out.past);
    const fullNext = await model.forward([[...ids, next[0]!]]);
    const shortNext = await model.forward([[...short, next[1]!]]);
    worst = Math.max(worst, maxDifference(step.logits.subarray(0, V), fullNext.data.subarray(T * V)));
    worst = Math.max(worst, maxDifference(step.logits.subarray(V), shortNext.data.subarray(short.length * V)));
    console.log(`left-padded batch of 2: max difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });

  it("refuses missing weights and bad tokenizers with typed errors, writing nothing (also past 2 GiB, which goes to external data)", async () => {
    const dir = join(folder, "refused");
    await expect(exportOnnxFolder(dir, presetConfig("gemma2-2b"), new Map())).rejects.toThrow(ConfigMismatchError);
    await expect(exportOnnxFolder(dir, config, new Map(), { externalData: false })).rejects.toThrow(ConfigMismatchError);
    const tooLarge = JSON.stringify({ model: { type: "BPE", vocab: { "<pad>": 0, x: V } } });
    await expect(exportOnnxFolder(dir, config, params, { tokenizerFiles: { tokenizerJson: tooLarge } })).rejects.toThrow(/token id 512.*512 entries/);
    await expect(readFile(join(dir, "config.json"))).rejects.toThrow(/ENOENT/);
  });
});

/** gemma-ts's greedy decoding: argmax of Gemma2Model.forward's last row, one token at a time through a KVCache; stops after <eos> as transformers.js does. */
async function greedy(model: Gemma2Model, prompt: readonly number[], maxNewTokens: number): Promise<number[]> {
  const { vocabSize, eosTokenId } = model.config;
  const stops = new Set(Array.isArray(eosTokenId) ? eosTokenId : [eosTokenId]);
  const cache = new KVCache(model.config, { capacity: prompt.length + maxNewTokens });
  let logits = await model.forward([[...prompt]], cache);
  const out = [...prompt];
  for (let produced = 0; produced < maxNewTokens; produced++) {
    const last = logits.data.subarray(logits.size - vocabSize);
    let best = 0;
    for (let v = 1; v < vocabSize; v++) if (last[v]! > last[best]!) best = v;
    out.push(best);
    if (stops.has(best) || produced + 1 === maxNewTokens) break;
    logits = await model.forward([[best]], cache);
  }
  return out;
}

describe("transformers.js on the exported folder", () => {
  const prompts = ["The state of the Union is", "We will build", "Our economy"];
  const maxNewTokens = 12;
  let config: Gemma2Config;
  let params: Gemma2Params;
  let dir: string;
  let tokenizerIds: number[][];
  let tokenizerJson: string;

  beforeAll(async () => {
    const texts = sotuSpeeches().slice(-12); // the last 12 addresses
    const trained = await trainBpe(texts, { vocabSize: 512 });
    tokenizerJson = trained.toJsonString();
    const tokenizer = trained.toTokenizer();
    config = { ...presetConfig("gemma2-tiny"), vocabSize: trained.stats.vocabSize };
    // A brief training, so that greedy continuations depend on the prompt (not one repeated token).
    const tokens = Int32Array.from(texts.flatMap((text) => Array.from(tokenizer.encode(text).ids)));
    const shape = { batchSize: 8, sequenceLength: 32 };
    const trainer = new Trainer({
      config,
      backend: new OnnxBackend({ intraOpThreads: 2 }),
      params: initParams(config, 1),
      objective: languageModeling(),
      optimizer: { noDecay: (name) => name.endsWith("norm.weight"), maxGradNorm: 1 },
    });
    const steps = 600;
    await train({
      trainer,
      steps,
      schedule: warmupCosine({ maxLr: 1e-2, warmupSteps: 20, totalSteps: steps }),
      batch: (index) => languageModelBatch(tokenBatch(tokens, { ...shape, seed: 2 }, index)),
    });
    params = await trainer.read();
    await trainer.dispose();
    tokenizerIds = prompts.map((prompt) => Array.from(tokenizer.encode(prompt).ids));
    dir = join(folder, "trained");
    await exportOnnxFolder(dir, config, params, { tokenizerFiles: { tokenizerJson: trained.toJsonString() } });
  });

  it("writes Optimum's layout, with the config fields transformers.js reads", async () => {
    const written = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
    expect(written).toMatchObject({ model_type: "gemma2", num_key_value_heads: 2, head_dim: 16, num_hidden_layers: 4, "transformers.js_config": { dtype: "fp32" } });
    expect(JSON.parse(await readFile(join(dir, "generation_config.json"), "utf8"))).toMatchObject({ bos_token_id: 2, eos_token_id: 1, pad_token_id: 0 });
    expect(JSON.parse(await readFile(join(dir, "tokenizer_config.json"), "utf8"))).toMatchObject({ tokenizer_class: "GemmaTokenizer", bos_token: "<bos>", eos_token: "<eos>", pad_token: "<pad>", padding_side: "left" });
  });

  it("loads the same model exported with external data (onnx/model.onnx_data) and generates the same tokens", async () => {
    const external = join(folder, "trained-external");
    await exportOnnxFolder(external, config, params, { tokenizerFiles: { tokenizerJson }, externalData: true });
    env.allowRemoteModels = false;
    env.localModelPath = dirname(external);
    const tokenizer = await AutoTokenizer.from_pretrained(basename(external), { local_files_only: true });
    const lm = await AutoModelForCausalLM.from_pretrained(basename(external), { local_files_only: true, dtype: "fp32" });
    const inputs = tokenizer(prompts[0]!);
    const ids = Array.from((inputs.input_ids as TjsTensor).data as BigInt64Array, Number);
    const generated = (await lm.generate({ ...inputs, max_new_tokens: maxNewTokens, do_sample: false })) as TjsTensor;
    const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
    expect(Array.from(generated.data as BigInt64Array, Number)).toEqual(await greedy(model, ids, maxNewTokens));
    await model.dispose();
  });

  it("generates gemma-ts's greedy tokens for three prompts", async () => {
    env.allowRemoteModels = false;
    env.localModelPath = dirname(dir);
    const name = basename(dir);
    const tokenizer = await AutoTokenizer.from_pretrained(name, { local_files_only: true });
    const lm = await AutoModelForCausalLM.from_pretrained(name, { local_files_only: true, dtype: "fp32" });
    const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
    const continuations = new Set<string>();
    for (const [p, prompt] of prompts.entries()) {
      const inputs = tokenizer(prompt);
      const ids = Array.from((inputs.input_ids as TjsTensor).data as BigInt64Array, Number);
      expect(ids).toEqual(tokenizerIds[p]);
      const generated = (await lm.generate({ ...inputs, max_new_tokens: maxNewTokens, do_sample: false })) as TjsTensor;
      const fromTjs = Array.from(generated.data as BigInt64Array, Number);
      const fromGemmaTs = await greedy(model, ids, maxNewTokens);
      console.log(`${JSON.stringify(prompt)} -> ${JSON.stringify(tokenizer.decode(fromTjs.slice(ids.length)))}`);
      expect(fromTjs).toEqual(fromGemmaTs);
      continuations.add(fromTjs.slice(ids.length).join(","));
    }
    // The continuations depend on the prompt (a tame model would repeat one token whatever came
    // before). Which two of three collide moves with the training's rounding, so at least two differ.
    expect(continuations.size).toBeGreaterThanOrEqual(2);

    // All three at once: the tokenizer pads on the left (tokenizer_config.json), transformers.js
    // derives position_ids from the attention_mask, and each row continues as it does alone.
    const batch = tokenizer(prompts, { padding: true });
    expect((batch.attention_mask as TjsTensor).tolist()[2]).toContain(0n);
    const width = (batch.input_ids as TjsTensor).dims[1]!;
    const generated = (await lm.generate({ ...batch, max_new_tokens: maxNewTokens, do_sample: false })) as TjsTensor;
    const rows = generated.tolist() as bigint[][];
    for (const [p, prompt] of prompts.entries()) {
      const alone = await greedy(model, tokenizerIds[p]!, maxNewTokens);
      expect(rows[p]!.slice(width).map(Number), prompt).toEqual(alone.slice(tokenizerIds[p]!.length));
    }
    await model.dispose();
    await lm.dispose();
  });
});
