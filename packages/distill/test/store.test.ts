// The teacher store against the teacher itself: at every position of a random tiny model whose
// soft-cap engages, the stored top-k log-probs are the model's full (soft-capped, then tempered)
// log-softmax, within 1e-5 in float32 and within the documented float16 bound; the residual is the
// mass left out; sample mode stores k draws as counts; dump prints what is stored, in order; a
// teacher of another vocabulary is refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenShards } from "@gemma-ts/data";
import { dumpTeacherStore, type LocalTeacher, openTeacherStore, type TeacherStoreIndex, VocabularyMismatchError, writeTeacherStore } from "../src/index.js";
import { cleanup, generatedTexts, referenceLogprobs, smallTokenizer, tempDir, tinyConfig, tinyTeacher, writeShards } from "./support/fixtures.js";

let shards: TokenShards;
let teacher: LocalTeacher;
const WINDOW = 48;

beforeAll(async () => {
  const tokenizer = await smallTokenizer();
  shards = await writeShards(tokenizer, generatedTexts(24, 7));
  teacher = tinyTeacher(tokenizer);
});

afterAll(async () => {
  await shards.close();
  await teacher.close();
  await cleanup();
});

async function store(options: { mode: "top-k" | "sample"; k: number; temperature: number; valueDtype: "float16" | "float32" }): Promise<{ dir: string; index: TeacherStoreIndex }> {
  const dir = await tempDir();
  const index = await writeTeacherStore({ teacher, shards, outDir: dir, ...options, chunkPositions: 100, batchTokens: 200 });
  return { dir, index };
}

/** Compares a store's top-k entries at every position with the reference; `tolerance(logprob)` bounds the error. */
async function expectTopK(dir: string, temperature: number, tolerance: (logprob: number) => number): Promise<void> {
  const opened = await openTeacherStore(dir, { shards });
  const { k } = opened.index;
  let checked = 0;
  let worst = 0;
  let capEngaged = false;
  for (let document = 0; document < shards.documentCount; document++) {
    const { ids } = await shards.readDocument(document);
    const reference = await referenceLogprobs(teacher, ids, WINDOW, temperature);
    const stored = await opened.readRange(opened.documentStart(document), ids.length);
    expect(Array.from(stored.tokens)).toEqual(Array.from(ids));
    for (let p = 0; p < ids.length; p++) {
      const row = reference[p]!;
      const sorted = Float64Array.from(row).sort().reverse();
      // The most likely id leads a softmax of capped logits; with cap 4 it is far from uniform.
      if (sorted[0]! - sorted[row.length - 1]! > (2 * 4 * 0.75) / temperature) capEngaged = true;
      let covered = 0;
      for (let j = 0; j < k; j++) {
        const id = stored.ids[p * k + j]!;
        const logprob = stored.logprobs[p * k + j]!;
        const error = Math.abs(logprob - row[id]!);
        worst = Math.max(worst, error);
        expect(error, `document ${document}, position ${p}, slot ${j}`).toBeLessThanOrEqual(tolerance(row[id]!));
        // A valid top-k set: nothing stored is below the k-th largest (up to float noise).
        expect(row[id]!).toBeGreaterThanOrEqual(sorted[k - 1]! - 2e-6);
        covered += Math.exp(row[id]!);
      }
      expect(Math.abs(stored.residual[p]! - (1 - covered))).toBeLessThan(1e-5);
      checked++;
    }
  }
  await opened.close();
  expect(checked).toBe(shards.tokenCount);
  expect(capEngaged).toBe(true);
  expect(worst).toBeGreaterThanOrEqual(0);
}

describe("teacher store from a local teacher", () => {
  it("the shards hold documents longer than the teacher's context (several windows)", () => {
    const longest = Math.max(...Array.from({ length: shards.documentCount }, (_, d) => shards.documentLengthOf(d)));
    expect(longest).toBeGreaterThan(WINDOW);
  });

  it("top-k in float32 equals the soft-capped softmax at every position within 1e-5", async () => {
    const { dir, index } = await store({ mode: "top-k", k: 8, temperature: 1, valueDtype: "float32" });
    expect(index.positions).toBe(shards.tokenCount);
    expect(index.bytesPerToken).toBe(2 + 8 * (2 + 4) + 4);
    await expectTopK(dir, 1, () => 1e-5);
  });

  it("top-k in float16 at temperature 2 (after the cap) is within the documented quantization error", async () => {
    const { dir, index } = await store({ mode: "top-k", k: 16, temperature: 2, valueDtype: "float16" });
    expect(index.bytesPerToken).toBe(2 + 16 * (2 + 2) + 4);
    await expectTopK(dir, 2, (logprob) => Math.max(Math.abs(logprob) * 2 ** -11, 2 ** -25) + 1e-5);
  });

  it("sample mode stores k draws as counts: distinct ids, weights in multiples of 1/k summing to 1, unused slots last", async () => {
    const k = 32;
    const { dir } = await store({ mode: "sample", k, temperature: 1, valueDtype: "float32" });
    const opened = await openTeacherStore(dir);
    const range = await opened.readRange(0, opened.index.positions);
    let unused = 0;
    for (let p = 0; p < opened.index.positions; p++) {
      const ids = new Set<number>();
      let counts = 0;
      let seenUnused = false;
      for (let j = 0; j < k; j++) {
        ids.add(range.ids[p * k + j]!);
        const logprob = range.logprobs[p * k + j]!;
        if (logprob === Number.NEGATIVE_INFINITY) {
          seenUnused = true;
          unused++;
          continue;
        }
        expect(seenUnused).toBe(false);
        const count = Math.exp(logprob) * k;
        expect(Math.abs(count - Math.round(count))).toBeLessThan(1e-4);
        counts += Math.round(count);
      }
      expect(ids.size).toBe(k);
      expect(counts).toBe(k);
    }
    expect(unused).toBeGreaterThan(0);
    await opened.close();
    // The draws are keyed by corpus position: the same settings give the same bytes.
    const again = await store({ mode: "sample", k, temperature: 1, valueDtype: "float32" });
    expect(again.index.chunks.map((chunk) => chunk.sha256)).toEqual((await openTeacherStore(dir)).index.chunks.map((chunk) => chunk.sha256));
  });

  it("dump yields every position in order with the stored entries", async () => {
    const { dir } = await store({ mode: "top-k", k: 4, temperature: 1, valueDtype: "float16" });
    const opened = await openTeacherStore(dir);
    const range = await opened.readRange(0, 130);
    await opened.close();
    const records = [];
    for await (const record of dumpTeacherStore(dir, { limit: 130, readPositions: 50 })) records.push(record);
    expect(records.map((record) => record.position)).toEqual(Array.from({ length: 130 }, (_, i) => i));
    records.forEach((record, p) => {
      expect(record.ids).toEqual(Array.from(range.ids.subarray(p * 4, p * 4 + 4)));
      expect(record.logprobs).toEqual(Array.from(range.logprobs.subarray(p * 4, p * 4 + 4)));
    });
  });

  it("refuses a teacher whose tokenizer has other token strings, or another vocabulary size", async () => {
    const other = await smallTokenizer(512, 99);
    const stranger = tinyTeacher(other);
    const dir = await tempDir();
    const attempt = writeTeacherStore({ teacher: stranger, shards, outDir: dir, mode: "top-k", k: 4, temperature: 1 });
    await expect(attempt).rejects.toBeInstanceOf(VocabularyMismatchError);
    await expect(attempt).rejects.toMatchObject({ code: "VOCABULARY_MISMATCH", field: "tokenizer" });
    await stranger.close();
    const tokenizer = await smallTokenizer();
    const wider = tinyTeacher(tokenizer, tinyConfig(tokenizer.vocabSize + 8));
    await expect(writeTeacherStore({ teacher: wider, shards, outDir: dir, mode: "top-k", k: 4, temperature: 1 })).rejects.toMatchObject({
      code: "VOCABULARY_MISMATCH",
      field: "vocabSize",
    });
    await wider.close();
  });
});
