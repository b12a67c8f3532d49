// Batches: a pure function of (seed, step), different across seeds, each epoch a shuffled
// permutation of whole documents with every token a target exactly once, loss masks that follow the
// documents' masks (no <bos> target, chat prompts masked), a held-out split that never reaches
// training, and an ordered pass for evaluation whose padding is masked.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BatchSource,
  batchSources,
  InvalidArgumentError,
  openTokenShards,
  splitDocuments,
  writeTokenShards,
  type Batch,
  type Document,
  type TokenShards,
} from "../src/index.js";
import { cleanup, smallTokenizer, sotuPassages, tempDir } from "./support/fixtures.js";

const B = 3;
const T = 64;
let dir: string;
let shards: TokenShards;
let documents: { ids: Int32Array; mask: Uint8Array }[];

beforeAll(async () => {
  const tokenizer = await smallTokenizer();
  const paragraphs = sotuPassages(30);
  const corpus: Document[] = paragraphs.map((text) => ({ text }));
  // A few chats among the texts, so masks come from the mask files too.
  for (let i = 0; i < 4; i++) {
    corpus.splice(i * 7 + 3, 0, {
      messages: [
        { role: "user", content: `Question ${i}: summarise paragraph ${i}.` },
        { role: "assistant", content: paragraphs[i]!.slice(0, 120) },
      ],
    });
  }
  dir = await tempDir();
  await writeTokenShards({ inputs: [{ name: "corpus", documents: corpus }], tokenizer, outDir: dir, shardTokens: 1500 });
  shards = await openTokenShards(dir);
  documents = await Promise.all(Array.from({ length: shards.documentCount }, (_, i) => shards.readDocument(i)));
});

afterAll(async () => {
  await shards.close();
  await cleanup();
});

/** The stream the batches read: row k's inputs are positions kT .. kT+T-1, its targets kT+1 .. kT+T. */
function targetsOf(batches: Batch[]): { ids: number[]; mask: number[] } {
  const ids: number[] = [];
  const mask: number[] = [];
  for (const batch of batches) {
    for (let r = 0; r < batch.batchSize; r++) {
      ids.push(...batch.ids.subarray(r * (T + 1) + 1, (r + 1) * (T + 1)));
      mask.push(...batch.lossMask.subarray(r * T, (r + 1) * T));
    }
  }
  return { ids, mask };
}

/** Cuts a stream of targets (starting just after a <bos>) back into documents, by their <bos>. */
function documentsIn(targets: number[], count: number): number[] {
  const stream = [shards.bos, ...targets];
  const found: number[] = [];
  let at = 0;
  while (found.length < count) {
    const match = documents.findIndex((document) => document.ids.every((id, i) => stream[at + i] === id));
    expect(match, `no document starts at stream position ${at}`).toBeGreaterThanOrEqual(0);
    found.push(match);
    at += documents[match]!.ids.length;
  }
  return found;
}

async function batches(source: BatchSource, from: number, count: number): Promise<Batch[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => source.batchAt(from + i)));
}

describe("training batches", () => {
  it("are a pure function of (seed, step): another source on another open gives the same, in any order", async () => {
    const again = await openTokenShards(dir);
    const a = new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 7 });
    const b = new BatchSource(again, { batchSize: B, sequenceLength: T, seed: 7 });
    const late = await b.batchAt(40);
    for (const step of [0, 1, 17, 40]) expect(await b.batchAt(step)).toEqual(await a.batchAt(step));
    expect(late).toEqual(await a.batchAt(40));
    await again.close();
  });

  it("say where each id came from: the segments rebuild every row from the shards", async () => {
    const source = new BatchSource(shards, { batchSize: 4, sequenceLength: 24, seed: 3 });
    for (const batch of [await source.batchAt(0), await source.batchAt(7), await source.orderedBatchAt(source.orderedBatchCount - 1)]) {
      const rebuilt = new Int32Array(batch.ids.length).fill(shards.pad);
      for (const segment of batch.segments) {
        const document = (await shards.readDocument(segment.document)).ids;
        rebuilt.set(document.subarray(segment.from, segment.from + segment.count), segment.row * 25 + segment.column);
      }
      expect(Array.from(rebuilt)).toEqual(Array.from(batch.ids));
    }
  });

  it("differ across seeds", async () => {
    const a = new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 1 });
    const b = new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 2 });
    expect((await a.batchAt(0)).ids).not.toEqual((await b.batchAt(0)).ids);
    expect((await a.batchAt(9)).ids).not.toEqual((await b.batchAt(9)).ids);
  });

  it("pack each epoch as a fresh permutation of whole documents, every token a target once", async () => {
    const source = new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 3 });
    const total = documents.reduce((sum, document) => sum + document.ids.length, 0);
    expect(source.tokensPerEpoch).toBe(total);
    expect(source.stepsPerEpoch).toBeCloseTo(total / (B * T));
    const steps = Math.ceil((2 * total) / (B * T));
    const { ids, mask } = targetsOf(await batches(source, 0, steps));
    const order = documentsIn(ids, 2 * documents.length);
    const epoch0 = order.slice(0, documents.length);
    const epoch1 = order.slice(documents.length);
    expect([...epoch0].sort((x, y) => x - y)).toEqual(documents.map((_, i) => i));
    expect([...epoch1].sort((x, y) => x - y)).toEqual(documents.map((_, i) => i));
    expect(epoch1).not.toEqual(epoch0);
    expect(epoch0).not.toEqual(documents.map((_, i) => i));
    // The loss mask of each target is its token's stored mask: 0 on <bos>, 0 on chat prompts.
    const stored = order.flatMap((d) => Array.from(documents[d]!.mask));
    expect(mask.slice(0, stored.length - 1)).toEqual(stored.slice(1));
    expect(ids.filter((id, i) => id === shards.bos && mask[i] !== 0)).toEqual([]);
    expect((await source.batchAt(steps)).epoch).toBeCloseTo((steps * B * T) / total);
  });
});

describe("the held-out split", () => {
  it("is disjoint from training, and training batches never read a held-out document", async () => {
    const { train, heldOut } = batchSources(shards, { batchSize: B, sequenceLength: T, seed: 5, heldOut: { fraction: 0.2 } });
    expect(heldOut).toBeDefined();
    const held = Array.from(heldOut!.documents);
    expect(held).toHaveLength(Math.round(0.2 * documents.length));
    expect([...train.documents, ...held].sort((x, y) => x - y)).toEqual(documents.map((_, i) => i));
    const steps = Math.ceil((3 * train.tokensPerEpoch) / (B * T));
    const seen = documentsIn(targetsOf(await batches(train, 0, steps)).ids, 3 * train.documents.length);
    expect(seen.filter((d) => held.includes(d))).toEqual([]);
    expect(new Set(seen)).toEqual(new Set(train.documents));
    // The split ignores the training seed.
    const other = batchSources(shards, { batchSize: B, sequenceLength: T, seed: 6, heldOut: { fraction: 0.2 } });
    expect(other.heldOut!.documents).toEqual(heldOut!.documents);
    expect(batchSources(shards, { batchSize: B, sequenceLength: T, seed: 5, heldOut: { fraction: 0.2, seed: 1 } }).heldOut!.documents).not.toEqual(
      heldOut!.documents,
    );
  });

  it("takes every n-th document", () => {
    expect(Array.from(splitDocuments(10, { every: 4 }).heldOut)).toEqual([3, 7]);
    expect(Array.from(splitDocuments(10, { every: 4 }).train)).toEqual([0, 1, 2, 4, 5, 6, 8, 9]);
    expect(() => splitDocuments(10, { every: 11 })).toThrow(InvalidArgumentError);
    expect(() => splitDocuments(1, { fraction: 0.5 })).toThrow(InvalidArgumentError);
    expect(Array.from(splitDocuments(3, { fraction: 0.01 }).heldOut)).toHaveLength(1);
    expect(Array.from(splitDocuments(3, { fraction: 0.99 }).train)).toHaveLength(1);
  });
});

describe("the ordered pass", () => {
  it("reads the documents in order, each target once, and masks the padding", async () => {
    const { heldOut } = batchSources(shards, { batchSize: B, sequenceLength: T, seed: 0, heldOut: { every: 3 } });
    const source = heldOut!;
    const all: Batch[] = [];
    for await (const batch of source.orderedBatches()) all.push(batch);
    expect(all).toHaveLength(source.orderedBatchCount);
    expect(all.every((batch) => batch.ids.length === B * (T + 1) && batch.lossMask.length === B * T)).toBe(true);
    const { ids, mask } = targetsOf(all);
    const real = source.tokensPerEpoch - 1;
    expect(ids.length).toBeGreaterThanOrEqual(real);
    expect(ids.length - real).toBeLessThan(B * T + T);
    expect(documentsIn(ids.slice(0, real), source.documents.length)).toEqual(Array.from(source.documents));
    const stored = Array.from(source.documents).flatMap((d) => Array.from(documents[d]!.mask));
    expect(mask.slice(0, real)).toEqual(stored.slice(1));
    expect(mask.slice(real).every((bit) => bit === 0)).toBe(true);
    expect(ids.slice(real).every((id) => id === shards.pad)).toBe(true);
    await expect(source.orderedBatchAt(source.orderedBatchCount)).rejects.toThrow(InvalidArgumentError);
  });
});

it("rejects bad options", async () => {
  expect(() => new BatchSource(shards, { batchSize: 0, sequenceLength: T, seed: 0 })).toThrow(/batchSize/);
  expect(() => new BatchSource(shards, { batchSize: B, sequenceLength: 1.5, seed: 0 })).toThrow(/sequenceLength/);
  expect(() => new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: -1 })).toThrow(/seed/);
  expect(() => new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 0, documents: [] })).toThrow(/no documents/);
  expect(() => new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 0, documents: [10_000] })).toThrow(/beyond/);
  await expect(new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 0 }).batchAt(-1)).rejects.toThrow(/step/);
});

describe("batches without packing (one document a row)", () => {
  it("start each row at a document's first token, cut at T + 1 ids, pad the rest with mask 0, and visit every document once an epoch", async () => {
    const source = new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 5, packing: "none" });
    const n = shards.documentCount;
    expect(source.stepsPerEpoch).toBeCloseTo(n / B, 10);
    const seen: number[] = [];
    for (let step = 0; step * B < n; step++) {
      const batch = await source.batchAt(step);
      for (const segment of batch.segments) {
        const { ids, mask } = documents[segment.document]!;
        const r = segment.row;
        const count = Math.min(ids.length, T + 1);
        expect(segment).toMatchObject({ column: 0, from: 0, count });
        expect(Array.from(batch.ids.subarray(r * (T + 1), r * (T + 1) + count))).toEqual(Array.from(ids.subarray(0, count)));
        expect(Array.from(batch.ids.subarray(r * (T + 1) + count, (r + 1) * (T + 1)))).toEqual(new Array(T + 1 - count).fill(shards.pad));
        expect(Array.from(batch.lossMask.subarray(r * T, r * T + count - 1))).toEqual(Array.from(mask.subarray(1, count)));
        expect(batch.lossMask.subarray(r * T + count - 1, (r + 1) * T).every((value) => value === 0)).toBe(true);
        if (seen.length < n) seen.push(segment.document);
      }
    }
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(seen).not.toEqual(Array.from({ length: n }, (_, i) => i));
    // A pure function of (seed, step), and the next epoch is another order.
    expect(await source.batchAt(2)).toEqual(await new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 5, packing: "none" }).batchAt(2));
    const nextEpoch = await source.batchAt(Math.ceil(n / B) + 1);
    expect(nextEpoch.epoch).toBeGreaterThan(1);
  });

  it("pass over the documents in order for evaluation, padding the last batch with empty rows", async () => {
    const source = new BatchSource(shards, { batchSize: B, sequenceLength: T, seed: 5, packing: "none" });
    const batches = [];
    for await (const batch of source.orderedBatches()) batches.push(batch);
    expect(batches).toHaveLength(Math.ceil(shards.documentCount / B));
    expect(batches.flatMap((batch) => batch.segments.map((segment) => segment.document))).toEqual(Array.from({ length: shards.documentCount }, (_, i) => i));
    const last = batches.at(-1)!;
    const emptyRows = B * batches.length - shards.documentCount;
    for (let r = B - emptyRows; r < B; r++) expect(last.lossMask.subarray(r * T, (r + 1) * T).every((value) => value === 0)).toBe(true);
  });
});
