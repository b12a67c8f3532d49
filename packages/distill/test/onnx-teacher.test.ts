// An exported ONNX folder as a local teacher: LocalTeacher.fromFolder finds onnx/model.onnx and
// runs it on its own onnxruntime session. The folder is the export of a random tiny Gemma 2 whose
// soft-caps both engage (attention capped at 1, the final logits at 4, weights of initializer range
// 0.5); a store written from it holds, at every position, the ids of the store written from the
// Hugging Face folder of the same weights and their log-probs within 1e-4. Its fingerprint covers
// config.json, model.onnx and the external data file when there is one; a folder that also holds
// safetensors is read as a Hugging Face folder.
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Gemma2Model } from "@gemma-ts/core";
import { exportOnnxFolder, loadHfCheckpoint, ONNX_DATA_FILE, OnnxBackend, OnnxFolderModel } from "@gemma-ts/core/node";
import type { TokenShards } from "@gemma-ts/data";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalTeacher, modelFingerprint, onnxFolderFingerprint, openTeacherStore, type Teacher, writeTeacherStore } from "../src/index.js";
import { cleanup, generatedTexts, tempDir, writeShards } from "./support/fixtures.js";
import { type ModelFolder, writeModelFolder } from "./support/served-teacher.js";

const WINDOW = 48;

let folder: ModelFolder;
let onnxDir: string;
let shards: TokenShards;
let hfStore: string;

beforeAll(async () => {
  folder = await writeModelFolder({ config: { attnLogitSoftcapping: 1 } });
  const { config, params } = await loadHfCheckpoint(folder.dir);
  onnxDir = await tempDir();
  await exportOnnxFolder(onnxDir, config, params, { tokenizerFiles: { tokenizerJson: await readFile(join(folder.dir, "tokenizer.json")) } });
  shards = await writeShards(folder.tokenizer, generatedTexts(16, 7));
  const hf = await LocalTeacher.fromFolder(folder.dir, { threads: 1 });
  hfStore = await store(hf);
  await hf.close();
}, 120_000);

afterAll(async () => {
  await shards?.close();
  await cleanup();
});

async function store(teacher: Teacher): Promise<string> {
  const dir = await tempDir();
  await writeTeacherStore({ teacher, shards, outDir: dir, mode: "top-k", k: 8, temperature: 1, valueDtype: "float32", windowLength: WINDOW, batchTokens: 200, chunkPositions: 128 });
  return dir;
}

/** The same tokens and ids at every position; the largest log-prob and residual difference. */
async function compareStores(a: string, b: string): Promise<number> {
  const [left, right] = [await openTeacherStore(a, { shards }), await openTeacherStore(b, { shards })];
  const { positions, k } = left.index;
  expect(right.index.positions).toBe(positions);
  const [x, y] = [await left.readRange(0, positions), await right.readRange(0, positions)];
  expect(Array.from(y.tokens)).toEqual(Array.from(x.tokens));
  expect(Array.from(y.ids)).toEqual(Array.from(x.ids));
  let worst = 0;
  for (let i = 0; i < positions * k; i++) worst = Math.max(worst, Math.abs(x.logprobs[i]! - y.logprobs[i]!));
  for (let p = 0; p < positions; p++) worst = Math.max(worst, Math.abs(x.residual[p]! - y.residual[p]!));
  await left.close();
  await right.close();
  return worst;
}

describe("an exported ONNX folder as a local teacher", () => {
  it("the model is not tame: dropping either soft-cap changes its logits", async () => {
    const { config, params } = await loadHfCheckpoint(folder.dir);
    const backend = new OnnxBackend({ intraOpThreads: 1 });
    const { ids } = await shards.readDocument(0);
    const row = [Array.from(ids.subarray(0, WINDOW))];
    const logits = async (changes: object) => {
      const model = new Gemma2Model({ ...config, ...changes }, params, backend);
      const out = (await model.forward(row)).data;
      await model.dispose();
      return out;
    };
    const capped = await logits({});
    const largestChange = (other: Float32Array) => other.reduce((worst, value, i) => Math.max(worst, Math.abs(value - capped[i]!)), 0);
    expect(largestChange(await logits({ attnLogitSoftcapping: null }))).toBeGreaterThan(0.5);
    expect(largestChange(await logits({ finalLogitSoftcapping: null }))).toBeGreaterThan(4);
    // Capped logits crowd against the cap of 4.
    expect(Math.max(...capped.map(Math.abs))).toBeGreaterThan(3.5);
  });

  it("fromFolder runs onnx/model.onnx; its store equals the Hugging Face folder's (ids equal, log-probs within 1e-4)", async () => {
    const teacher = await LocalTeacher.fromFolder(onnxDir, { threads: 1 });
    expect(teacher.model).toBeInstanceOf(OnnxFolderModel);
    expect(teacher.fingerprint).toBe(await onnxFolderFingerprint(onnxDir));
    expect(teacher.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(teacher.vocabulary.size).toBe(folder.tokenizer.vocabSize);
    const dir = await store(teacher);
    await teacher.close();
    const longest = Math.max(...Array.from({ length: shards.documentCount }, (_, d) => shards.documentLengthOf(d)));
    expect(longest).toBeGreaterThan(WINDOW);
    const worst = await compareStores(hfStore, dir);
    console.log(`ONNX folder teacher: ${shards.tokenCount} positions, largest log-prob difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    expect(index.teacher.fingerprint).toBe(await onnxFolderFingerprint(onnxDir));
  });

  it("weights in onnx/model.onnx_data: the same store; the fingerprint covers the data file", async () => {
    const { config, params } = await loadHfCheckpoint(folder.dir);
    const external = await tempDir();
    await exportOnnxFolder(external, config, params, { externalData: true });
    const teacher = await LocalTeacher.fromFolder(external, { threads: 1, tokenizer: folder.tokenizer });
    expect(await compareStores(hfStore, await store(teacher))).toBeLessThan(1e-4);
    await teacher.close();
    const before = await onnxFolderFingerprint(external);
    expect(teacher.fingerprint).toBe(before);
    const data = await readFile(join(external, ONNX_DATA_FILE));
    data[data.length >> 1]! ^= 1;
    await writeFile(join(external, ONNX_DATA_FILE), data);
    expect(await onnxFolderFingerprint(external)).not.toBe(before);
  });

  it("a folder holding safetensors as well is read as a Hugging Face folder", async () => {
    const both = await tempDir();
    await cp(onnxDir, both, { recursive: true });
    await cp(folder.dir, both, { recursive: true });
    const teacher = await LocalTeacher.fromFolder(both, { threads: 1 });
    expect(teacher.model).toBeInstanceOf(Gemma2Model);
    expect(teacher.fingerprint).toBe(modelFingerprint(teacher.model as Gemma2Model));
    await teacher.close();
  });

  it("a folder without config.json is refused with the file named", async () => {
    const broken = await tempDir();
    await cp(join(onnxDir, "onnx"), join(broken, "onnx"), { recursive: true });
    await expect(LocalTeacher.fromFolder(broken, { threads: 1, tokenizer: folder.tokenizer })).rejects.toThrow(/config\.json/);
  });
});
