// The store read back as the trainer's batch inputs: for training batches (shuffled, across an
// epoch boundary) and the ordered pass (padded), teacher.ids / teacher.probs at a position are the
// teacher's distribution recomputed on the batch's own ids (from the document's <bos> in the row),
// the mask is the batch's loss mask, every stored token matches the batch, and a store of other
// shards or a batch that does not match the store is refused; a top-k store read as a smaller k
// gives what a store of that k holds.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchSource, type Batch, type TokenShards } from "@gemma-ts/data";
import { BatchMisalignedError, batchSegments, type LocalTeacher, openTeacherStore, StoreMismatchError, TeacherBatches, type TeacherStore, writeTeacherStore } from "../src/index.js";
import { cleanup, generatedTexts, logSoftmax, smallTokenizer, tempDir, tinyTeacher, writeShards } from "./support/fixtures.js";

const B = 3;
const T = 24;
const K = 6;
let shards: TokenShards;
let teacher: LocalTeacher;
let store: TeacherStore;

beforeAll(async () => {
  const tokenizer = await smallTokenizer();
  shards = await writeShards(tokenizer, generatedTexts(16, 21));
  teacher = tinyTeacher(tokenizer);
  const dir = await tempDir();
  await writeTeacherStore({ teacher, shards, outDir: dir, mode: "top-k", k: K, temperature: 1, valueDtype: "float32", chunkPositions: 200 });
  store = await openTeacherStore(dir, { shards });
});

afterAll(async () => {
  await Promise.all([store.close(), shards.close(), teacher.close()]);
  await cleanup();
});

/** Checks every position of a batch whose row holds its document from <bos> against the teacher run on the row's ids. */
async function expectRecomputed(source: BatchSource, batch: Batch): Promise<number> {
  const inputs = await new TeacherBatches(store, source).at(batch);
  expect(inputs["teacher.ids"].shape).toEqual([B, T, K]);
  expect(Array.from(inputs.mask.data)).toEqual(Array.from(batch.lossMask));
  const V = teacher.model.config.vocabSize;
  let checked = 0;
  for (const segment of batchSegments(batch)) {
    if (segment.from !== 0) continue;
    const row = Array.from(batch.ids.subarray(segment.row * (T + 1) + segment.column, segment.row * (T + 1) + segment.column + segment.count));
    expect(row[0]).toBe(shards.bos);
    const logits = await teacher.model.forward([row]);
    for (let i = 0; i < segment.count; i++) {
      const exact = logSoftmax(logits.data.subarray(i * V, (i + 1) * V));
      const at = (segment.row * T + segment.column + i) * K;
      const sorted = Float64Array.from(exact).sort().reverse();
      for (let j = 0; j < K; j++) {
        const id = Number(inputs["teacher.ids"].data[at + j]);
        expect(exact[id]!).toBeGreaterThanOrEqual(sorted[K - 1]! - 2e-6);
        expect(Math.abs(inputs["teacher.probs"].data[at + j]! - Math.exp(exact[id]!))).toBeLessThan(1e-5);
      }
      checked++;
    }
  }
  return checked;
}

describe("teacher batches", () => {
  it("training batches, through an epoch boundary, carry the teacher's distribution of each position", async () => {
    const source = new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 7 });
    const boundary = Math.floor(source.stepsPerEpoch);
    let checked = 0;
    for (const step of [0, 1, boundary, boundary + 1]) checked += await expectRecomputed(source, await source.batchAt(step));
    expect(checked).toBeGreaterThan(20);
  });

  it("ordered batches too, padding with probability 0 under a zero mask", async () => {
    const source = new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 0, documents: [1, 4, 9] });
    let checked = 0;
    for (let index = 0; index < source.orderedBatchCount; index++) checked += await expectRecomputed(source, await source.orderedBatchAt(index));
    expect(checked).toBeGreaterThan(10);
    const last = await source.orderedBatchAt(source.orderedBatchCount - 1);
    const inputs = await new TeacherBatches(store, source).at(last);
    const padded = Array.from(last.lossMask).lastIndexOf(1) + 1;
    expect(padded).toBeLessThan(B * T);
    for (let p = padded + 1; p < B * T; p++) expect(Array.from(inputs["teacher.probs"].data.subarray(p * K, (p + 1) * K))).toEqual(new Array(K).fill(0));
  });

  it("a batch that is not where the store puts its tokens is refused", async () => {
    const source = new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 7 });
    const batch = await source.batchAt(2);
    const batches = new TeacherBatches(store, source);
    // Segments naming the wrong place: the tokens the store holds there are not the batch's.
    const shifted = { ...batch, segments: batch.segments.map((segment) => (segment.from > 0 ? { ...segment, from: segment.from - 1 } : segment)) };
    expect(shifted.segments).not.toEqual(batch.segments);
    await expect(batches.at(shifted)).rejects.toBeInstanceOf(BatchMisalignedError);
    const tampered = { ...batch, ids: batch.ids.slice() };
    tampered.ids[T + 1 + 5] = (tampered.ids[T + 1 + 5]! + 1) % shards.index.vocabSize;
    await expect(batches.at(tampered)).rejects.toThrow(/batch 2, row 1, position 5/);
  });

  it("the top k of a larger top-k store are the inputs a top-k store gives; a sampled store is read whole", async () => {
    const smaller = await tempDir();
    await writeTeacherStore({ teacher, shards, outDir: smaller, mode: "top-k", k: 2, temperature: 1, valueDtype: "float32", chunkPositions: 200 });
    const top2 = await openTeacherStore(smaller, { shards });
    const source = new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 7 });
    const batch = await source.batchAt(1);
    const read = await new TeacherBatches(store, source, { k: 2 }).at(batch);
    const written = await new TeacherBatches(top2, source).at(batch);
    expect(read["teacher.ids"].shape).toEqual([B, T, 2]);
    expect(Array.from(read["teacher.ids"].data)).toEqual(Array.from(written["teacher.ids"].data));
    expect(Array.from(read["teacher.probs"].data)).toEqual(Array.from(written["teacher.probs"].data));
    await top2.close();

    expect(() => new TeacherBatches(store, source, { k: K + 1 })).toThrow(/expected an integer in \[1, 6\]/);
    const sampledDir = await tempDir();
    await writeTeacherStore({ teacher, shards, outDir: sampledDir, mode: "sample", k: 4, temperature: 1, seed: 3, chunkPositions: 200 });
    const sampled = await openTeacherStore(sampledDir, { shards });
    expect(() => new TeacherBatches(sampled, source, { k: 2 })).toThrow(/only a top-k store can be read as a smaller top-k/);
    await sampled.close();
  });

  it("a store of other shards is refused", async () => {
    const other = await writeShards(await smallTokenizer(), generatedTexts(16, 22));
    expect(() => new TeacherBatches(store, new BatchSource(other, { batchSize: B, sequenceLength: T, seed: 0 }))).toThrow(StoreMismatchError);
    await other.close();
  });
});
