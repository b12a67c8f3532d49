// A store run killed mid-way (an abort, or an error thrown after some chunks) and rerun with the
// same arguments continues from the last complete chunk and ends byte-identical to a run that was
// never interrupted; other arguments start over. Opening checks the files: a truncated chunk, a
// flipped byte, a broken index or other shards are typed errors naming the file.
import { appendFile, copyFile, mkdir, readdir, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenShards } from "@gemma-ts/data";
import {
  ChecksumMismatchError,
  type LocalTeacher,
  MalformedStoreError,
  openTeacherStore,
  STORE_INDEX_FILE,
  StoreMismatchError,
  TruncatedChunkError,
  type WriteTeacherStoreOptions,
  type WriteTeacherStoreProgress,
  writeTeacherStore,
} from "../src/index.js";
import { cleanup, generatedTexts, smallTokenizer, tempDir, tinyTeacher, writeShards } from "./support/fixtures.js";

let shards: TokenShards;
let otherShards: TokenShards;
let teacher: LocalTeacher;
let whole: string;

const settings = (outDir: string, mode: "top-k" | "sample" = "top-k"): WriteTeacherStoreOptions => ({
  teacher,
  shards,
  outDir,
  mode,
  k: 8,
  temperature: 1,
  valueDtype: "float32",
  chunkPositions: 128,
  batchTokens: 150,
});

async function files(dir: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(dir)).sort();
  return new Map(await Promise.all(names.map(async (name) => [name, await readFile(join(dir, name))] as const)));
}

async function expectSameFiles(a: string, b: string): Promise<void> {
  const left = await files(a);
  const right = await files(b);
  expect([...right.keys()]).toEqual([...left.keys()]);
  for (const [name, bytes] of left) expect(right.get(name)!.equals(bytes), name).toBe(true);
}

beforeAll(async () => {
  const tokenizer = await smallTokenizer();
  shards = await writeShards(tokenizer, generatedTexts(30, 11));
  otherShards = await writeShards(tokenizer, generatedTexts(30, 12));
  teacher = tinyTeacher(tokenizer);
  whole = await tempDir();
  await writeTeacherStore(settings(whole));
});

afterAll(async () => {
  await Promise.all([shards.close(), otherShards.close(), teacher.close()]);
  await cleanup();
});

describe("resuming a store run", () => {
  it("an aborted run, rerun, continues from the last complete chunk and is byte-identical", async () => {
    const dir = await tempDir();
    const controller = new AbortController();
    const seen: WriteTeacherStoreProgress[] = [];
    const first = writeTeacherStore({ ...settings(dir), signal: controller.signal, onProgress: (p) => {
        seen.push(p);
        if (p.chunks === 3) controller.abort();
      },
    });
    await expect(first).rejects.toThrow();
    const left = (await readdir(dir)).filter((name) => name.startsWith("chunk-"));
    expect(left.length).toBe(3);
    expect(seen.at(-1)!.totalChunks).toBeGreaterThan(5);
    expect(await readdir(dir)).not.toContain(STORE_INDEX_FILE);
    const resumed: WriteTeacherStoreProgress[] = [];
    await writeTeacherStore({ ...settings(dir), onProgress: (p) => resumed.push(p) });
    expect(resumed[0]!.resumedPositions).toBe(3 * 128);
    await expectSameFiles(whole, dir);
  });

  it("a run killed by an error after some chunks, rerun twice over, ends identical (sample mode too)", async () => {
    const reference = await tempDir();
    await writeTeacherStore(settings(reference, "sample"));
    const dir = await tempDir();
    for (const stopAt of [2, 5]) {
      const run = writeTeacherStore({
        ...settings(dir, "sample"),
        onProgress: (p) => {
          if (p.chunks === stopAt) throw new Error(`killed after ${stopAt} chunks`);
        },
      });
      await expect(run).rejects.toThrow(`killed after ${stopAt} chunks`);
    }
    await writeTeacherStore(settings(dir, "sample"));
    await expectSameFiles(reference, dir);
  });

  it("a rerun with other settings starts over instead of mixing chunks", async () => {
    const dir = await tempDir();
    const run = writeTeacherStore({
      ...settings(dir),
      k: 4,
      onProgress: (p) => {
        if (p.chunks === 2) throw new Error("stop");
      },
    });
    await expect(run).rejects.toThrow("stop");
    const progress: WriteTeacherStoreProgress[] = [];
    await writeTeacherStore({ ...settings(dir), onProgress: (p) => progress.push(p) });
    expect(progress[0]!.resumedPositions).toBe(0);
    await expectSameFiles(whole, dir);
  });
});

describe("opening a damaged store", () => {
  async function copy(): Promise<string> {
    const dir = await tempDir();
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(whole)) await copyFile(join(whole, name), join(dir, name));
    return dir;
  }

  it("opens the intact store and checks the shards it was written for", async () => {
    const store = await openTeacherStore(whole, { shards });
    expect(store.index.positions).toBe(shards.tokenCount);
    await store.close();
    await expect(openTeacherStore(whole, { shards: otherShards })).rejects.toBeInstanceOf(StoreMismatchError);
  });

  it("a truncated or extended chunk is a TruncatedChunkError naming the file", async () => {
    const dir = await copy();
    await truncate(join(dir, "chunk-00002.bin"), 100);
    await expect(openTeacherStore(dir)).rejects.toBeInstanceOf(TruncatedChunkError);
    await expect(openTeacherStore(dir, { verify: "sizes" })).rejects.toThrow(/chunk-00002\.bin: 100 bytes on disk/);
    const longer = await copy();
    await appendFile(join(longer, "chunk-00000.bin"), Buffer.from([0]));
    await expect(openTeacherStore(longer)).rejects.toMatchObject({ code: "TRUNCATED_CHUNK" });
  });

  it("a flipped byte is a ChecksumMismatchError; a missing chunk or a broken index a MalformedStoreError", async () => {
    const dir = await copy();
    const path = join(dir, "chunk-00001.bin");
    const bytes = await readFile(path);
    bytes[bytes.length >> 1]! ^= 0x40;
    await writeFile(path, bytes);
    await expect(openTeacherStore(dir)).rejects.toBeInstanceOf(ChecksumMismatchError);
    await expect(openTeacherStore(dir)).rejects.toThrow(/chunk-00001\.bin: sha256/);
    const missing = await copy();
    await writeFile(join(missing, "chunk-00003.bin"), "");
    await expect(openTeacherStore(missing)).rejects.toMatchObject({ code: "TRUNCATED_CHUNK" });
    const broken = await copy();
    const index = JSON.parse(await readFile(join(broken, STORE_INDEX_FILE), "utf8"));
    index.k = 9;
    await writeFile(join(broken, STORE_INDEX_FILE), JSON.stringify(index));
    await expect(openTeacherStore(broken)).rejects.toBeInstanceOf(MalformedStoreError);
    await expect(openTeacherStore(broken)).rejects.toThrow(/bytesPerToken/);
    await writeFile(join(broken, STORE_INDEX_FILE), "{");
    await expect(openTeacherStore(broken)).rejects.toMatchObject({ code: "MALFORMED_STORE" });
  });
});
