// writeTokenShards and openTokenShards: the same documents as a .txt, a .jsonl and a .parquet file
// give byte-identical shards; documents round-trip with their masks, in uint16 (small vocabulary)
// and uint32 (Gemma's 256k) shards, across several shards; rewriting a folder leaves no stale or
// temp files; and damaged folders give typed errors.
import { readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tokenizerFromJson, trainBpe, type Tokenizer } from "@gemma-ts/tokenizer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodeDocument,
  INDEX_FILE,
  MalformedShardsError,
  openTokenShards,
  tokenizerFingerprint,
  TokenizerMismatchError,
  TruncatedShardError,
  writeTokenShards,
  type Document,
  type TokenShardIndex,
} from "../src/index.js";
import { cleanup, gemmaTokenizer, smallTokenizer, sotuPassages, tempDir } from "./support/fixtures.js";
import { writeMessagesParquet, writeTextParquet } from "./support/parquet.js";

let tokenizer: Tokenizer;
const paragraphs = sotuPassages(40);

beforeAll(async () => {
  tokenizer = await smallTokenizer();
});
afterAll(cleanup);

async function allDocuments(dir: string) {
  const shards = await openTokenShards(dir);
  try {
    return await Promise.all(Array.from({ length: shards.documentCount }, (_, i) => shards.readDocument(i)));
  } finally {
    await shards.close();
  }
}

describe("the same text in three formats", () => {
  it("gives byte-identical shards from .txt, .jsonl and .parquet", async () => {
    const inputs = await tempDir();
    const txt = join(inputs, "corpus.txt");
    const jsonl = join(inputs, "corpus.jsonl");
    const parquet = join(inputs, "corpus.parquet");
    // Some passages span several lines: a paragraph's lines are joined with "\n" in every format.
    const texts = paragraphs.map((text, i) => (i % 2 ? text.replaceAll(". ", ".\n") : text));
    await writeFile(txt, `${texts.join("\n\n")}\n`);
    await writeFile(jsonl, `${texts.map((text) => JSON.stringify({ text })).join("\n")}\n`);
    writeTextParquet(parquet, texts, { rowGroupSize: 7 });

    const folders: string[] = [];
    const indexes: TokenShardIndex[] = [];
    for (const input of [txt, jsonl, parquet]) {
      const outDir = await tempDir();
      indexes.push(await writeTokenShards({ inputs: [input], tokenizer, outDir, textUnit: "paragraph", shardTokens: 2000 }));
      folders.push(outDir);
    }
    expect(indexes[0]!.documents).toBe(texts.length);
    expect(indexes[0]!.shards.length).toBeGreaterThan(1);
    const withoutSources = (index: TokenShardIndex) => ({ ...index, sources: index.sources.map(({ name: _, ...rest }) => rest) });
    expect(withoutSources(indexes[1]!)).toEqual(withoutSources(indexes[0]!));
    expect(withoutSources(indexes[2]!)).toEqual(withoutSources(indexes[0]!));
    const names = (await readdir(folders[0]!)).filter((name) => name !== INDEX_FILE).sort();
    expect(names).toContain("tokens-00001.bin");
    for (const folder of folders.slice(1)) {
      expect((await readdir(folder)).filter((name) => name !== INDEX_FILE).sort()).toEqual(names);
      for (const name of names) expect(await readFile(join(folder, name))).toEqual(await readFile(join(folders[0]!, name)));
    }
  });
});

describe("round trip", () => {
  it("reads back every document's ids and mask, in uint16 shards split by shardTokens", async () => {
    const outDir = await tempDir();
    const documents: Document[] = paragraphs.map((text) => ({ text }));
    const index = await writeTokenShards({ inputs: [{ name: "paragraphs", documents }], tokenizer, outDir, shardTokens: 1500 });
    expect(index.dtype).toBe("uint16");
    expect(index.shards.every((shard) => shard.mask === undefined)).toBe(true);
    expect(index.sources).toEqual([{ name: "paragraphs", documents: documents.length, tokens: index.tokens }]);
    const read = await allDocuments(outDir);
    read.forEach((document, i) => {
      const expected = encodeDocument(tokenizer, documents[i]!);
      expect(document.ids).toEqual(expected.ids);
      expect(document.mask).toEqual(expected.mask);
      expect(document.ids[0]).toBe(tokenizer.special.bos);
      expect(document.ids[document.ids.length - 1]).toBe(tokenizer.special.eos);
      expect(tokenizer.decode(document.ids, { skipSpecialTokens: true })).toBe(paragraphs[i]);
    });
  });

  it("writes uint32 shards for Gemma's 256k vocabulary, with masks for a shard that holds a chat", async () => {
    const gemma = await gemmaTokenizer();
    const outDir = await tempDir();
    const chat = join(await tempDir(), "chat.parquet");
    writeMessagesParquet(chat, [[{ role: "user", content: "Name a prime." }, { role: "assistant", content: "Seven." }]]);
    const texts: Document[] = [{ text: "日本語 and emoji 😀" }, { text: paragraphs[0]! }];
    const index = await writeTokenShards({ inputs: [{ name: "texts", documents: texts }, chat], tokenizer: gemma, outDir, shardTokens: 40 });
    expect(index.dtype).toBe("uint32");
    expect(index.vocabSize).toBe(256000);
    expect(index.chatDocuments).toBe(1);
    expect(index.shards.map((shard) => shard.mask !== undefined)).toEqual(index.shards.map((_, i) => i === index.shards.length - 1));
    const read = await allDocuments(outDir);
    const expected = [...texts, { messages: [{ role: "user", content: "Name a prime." }, { role: "assistant", content: "Seven." }] } as Document];
    read.forEach((document, i) => {
      const encoded = encodeDocument(gemma, expected[i]!);
      expect(document.ids).toEqual(encoded.ids);
      expect(document.mask).toEqual(encoded.mask);
    });
    expect(Math.max(...read[0]!.ids)).toBeGreaterThan(0xffff);
  });

  it("replaces an earlier write in the same folder, leaving no stale shards or temp files", async () => {
    const outDir = await tempDir();
    const documents = paragraphs.map((text) => ({ text }));
    await writeTokenShards({ inputs: [{ name: "many", documents }], tokenizer, outDir, shardTokens: 500 });
    const index = await writeTokenShards({ inputs: [{ name: "few", documents: documents.slice(0, 2) }], tokenizer, outDir });
    expect(index.shards).toHaveLength(1);
    expect((await readdir(outDir)).sort()).toEqual([INDEX_FILE, "lengths-00000.bin", "tokens-00000.bin"]);
    expect(await allDocuments(outDir)).toHaveLength(2);
  });

  it("leaves no index when the input fails midway, so the folder never reads as complete", async () => {
    const outDir = await tempDir();
    await writeTokenShards({ inputs: [{ name: "good", documents: [{ text: "a" }] }], tokenizer, outDir });
    const bad = join(await tempDir(), "bad.jsonl");
    await writeFile(bad, '{"text": "fine"}\n{"text": 1}\n');
    await expect(writeTokenShards({ inputs: [bad], tokenizer, outDir })).rejects.toThrow(/line 2/);
    expect((await readdir(outDir)).filter((name) => name === INDEX_FILE || name.endsWith(".tmp"))).toEqual([]);
    await expect(openTokenShards(outDir)).rejects.toThrow(MalformedShardsError);
  });
});

describe("damaged shard folders", () => {
  let outDir: string;

  beforeAll(async () => {
    outDir = await tempDir();
    await writeTokenShards({ inputs: [{ name: "p", documents: paragraphs.slice(0, 6).map((text) => ({ text })) }], tokenizer, outDir, shardTokens: 300 });
  });

  async function damaged(damage: (dir: string) => Promise<void>): Promise<unknown> {
    const dir = await tempDir();
    for (const name of await readdir(outDir)) await writeFile(join(dir, name), await readFile(join(outDir, name)));
    await damage(dir);
    return openTokenShards(dir).then(
      async (shards) => {
        await shards.close();
        return "opened";
      },
      (error: unknown) => error,
    );
  }

  it("opens the intact copy, and checks the tokenizer when given one", async () => {
    expect(await damaged(async () => undefined)).toBe("opened");
    const shards = await openTokenShards(outDir, { tokenizer });
    await shards.close();
    const error = await openTokenShards(outDir, { tokenizer: await gemmaTokenizer() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenizerMismatchError);
    expect((error as TokenizerMismatchError).code).toBe("TOKENIZER_MISMATCH");
  });

  it("fingerprints a tokenizer by what it does: the same one trained in memory and loaded from JSON agree", async () => {
    const texts = sotuPassages(20);
    const a = await trainBpe(texts, { vocabSize: 400 });
    const b = await trainBpe(texts, { vocabSize: 401 });
    expect(tokenizerFingerprint(a.toTokenizer())).toBe(tokenizerFingerprint(tokenizerFromJson(a.toJsonString())));
    expect(tokenizerFingerprint(a.toTokenizer())).not.toBe(tokenizerFingerprint(b.toTokenizer()));
    expect(tokenizerFingerprint(tokenizer)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("names a truncated tokens file", async () => {
    const error = await damaged((dir) => truncate(join(dir, "tokens-00001.bin"), 10));
    expect(error).toBeInstanceOf(TruncatedShardError);
    expect((error as TruncatedShardError).code).toBe("TRUNCATED_SHARD");
    expect((error as Error).message).toMatch(/tokens-00001\.bin: 10 bytes on disk, the index says \d+/);
  });

  it("names a truncated lengths file and a missing one", async () => {
    expect(await damaged((dir) => truncate(join(dir, "lengths-00000.bin"), 3))).toBeInstanceOf(TruncatedShardError);
    const error = await damaged((dir) => rm(join(dir, "lengths-00000.bin")));
    expect(error).toBeInstanceOf(MalformedShardsError);
    expect((error as Error).message).toMatch(/lengths-00000\.bin: missing shard file/);
  });

  it.each([
    ["not JSON", (text: string) => text.slice(0, 20), /not JSON/],
    ["a wrong total", (text: string) => text.replace(/"tokens": (\d+),\n {2}"chatDocuments"/, '"tokens": 1,\n  "chatDocuments"'), /tokens: 1, but the shards hold/],
    ["a wrong dtype", (text: string) => text.replace('"uint16"', '"int8"'), /dtype: expected "uint16" or "uint32"/],
    ["a path outside the folder", (text: string) => text.replace('"tokens-00000.bin"', '"../tokens-00000.bin"'), /not a shard file name/],
  ])("rejects an index with %s", async (_, edit, message) => {
    const error = await damaged(async (dir) => writeFile(join(dir, INDEX_FILE), edit(await readFile(join(dir, INDEX_FILE), "utf8"))));
    expect(error).toBeInstanceOf(MalformedShardsError);
    expect((error as Error).message).toMatch(message);
  });

  it("rejects lengths that disagree with the index, and ids beyond the vocabulary", async () => {
    const lengths = await damaged(async (dir) => {
      const bytes = await readFile(join(dir, "lengths-00000.bin"));
      bytes.writeUInt32LE(bytes.readUInt32LE(0) + 1, 0);
      await writeFile(join(dir, "lengths-00000.bin"), bytes);
    });
    expect((lengths as Error).message).toMatch(/document lengths add up to \d+ tokens, the index says/);

    const dir = await tempDir();
    for (const name of await readdir(outDir)) await writeFile(join(dir, name), await readFile(join(outDir, name)));
    const bytes = await readFile(join(dir, "tokens-00000.bin"));
    bytes.writeUInt16LE(60000, 6);
    await writeFile(join(dir, "tokens-00000.bin"), bytes);
    const shards = await openTokenShards(dir);
    await expect(shards.readDocument(0)).rejects.toThrow(/tokens-00000\.bin: token 3 is id 60000, beyond the vocabulary of 1000/);
    await shards.close();
  });
});
