// readDocuments on each input kind: plain text (each text unit), JSONL (text and chat records,
// gzipped too), Parquet (a text column, a list-of-struct messages column, a JSON-string messages
// column), and the typed errors for unknown extensions, bad lines and rows, missing columns and
// truncated files.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, describe, expect, it } from "vitest";
import {
  MalformedFileError,
  MalformedRecordError,
  MissingColumnError,
  readDocuments,
  UnsupportedFormatError,
  type Document,
  type ReadDocumentsOptions,
} from "../src/index.js";
import { cleanup, tempDir } from "./support/fixtures.js";
import { writeMessagesParquet, writeTextParquet } from "./support/parquet.js";

afterAll(cleanup);

async function read(path: string, options?: ReadDocumentsOptions): Promise<Document[]> {
  const documents: Document[] = [];
  for await (const document of readDocuments(path, options)) documents.push(document);
  return documents;
}

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(await tempDir(), name);
  await writeFile(path, content);
  return path;
}

const chat: Document = {
  messages: [
    { role: "user", content: "What is 2+2?" },
    { role: "assistant", content: "4." },
  ],
};

describe("plain text", () => {
  const text = "\uFEFFFirst line\r\nstill the first paragraph\r\n\r\n  \nSecond paragraph\nthird line\n\n\n";

  it("is one document per file by default, verbatim but for the byte order mark", async () => {
    expect(await read(await file("a.txt", text))).toEqual([{ text: text.slice(1) }]);
  });

  it("splits paragraphs at blank lines, joining lines with \\n", async () => {
    expect(await read(await file("a.txt", text), { textUnit: "paragraph" })).toEqual([
      { text: "First line\nstill the first paragraph" },
      { text: "Second paragraph\nthird line" },
    ]);
  });

  it("makes every non-blank line a document", async () => {
    expect(await read(await file("a.md", text), { textUnit: "line" })).toEqual([
      { text: "First line" },
      { text: "still the first paragraph" },
      { text: "Second paragraph" },
      { text: "third line" },
    ]);
  });

  it("reads .txt.gz", async () => {
    expect(await read(await file("a.txt.gz", gzipSync(text)), { textUnit: "paragraph" })).toHaveLength(2);
  });
});

describe("JSONL", () => {
  it("reads text and chat records, skipping blank lines and unknown fields", async () => {
    const lines = [JSON.stringify({ text: "one", id: 1 }), "", JSON.stringify(chat), "   ", JSON.stringify({ text: "" })];
    const path = await file("a.jsonl", `${lines.join("\n")}\n`);
    expect(await read(path)).toEqual([{ text: "one" }, chat, { text: "" }]);
    expect(await read(await file("b.ndjson.gz", gzipSync(lines.join("\r\n"))))).toHaveLength(3);
  });

  it.each([
    ["{not json", /line 3: not JSON/],
    ['{"txt": "x"}', /line 3: expected a "text" string or a "messages" array \(fields: txt\)/],
    ['{"text": 5}', /line 3: "text" must be a string, got number/],
    ["[1, 2]", /line 3: expected an object/],
    ['{"messages": [{"role": "bot", "content": "hi"}]}', /line 3: messages\[0\]\.role must be one of/],
    ['{"messages": [{"role": "user", "content": null}]}', /line 3: messages\[0\]\.content must be a string, got null/],
    ['{"messages": [{"role": "assistant", "content": "hi"}]}', /line 3: "messages": Conversation roles must alternate/],
    ['{"messages": [{"role": "system", "content": "hi"}]}', /line 3: "messages": System role not supported/],
  ])("names the file and line of a bad record: %s", async (bad, message) => {
    const path = await file("bad.jsonl", `{"text": "fine"}\n\n${bad}\n{"text": "never read"}\n`);
    const error = await read(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MalformedRecordError);
    expect((error as MalformedRecordError).code).toBe("MALFORMED_RECORD");
    expect((error as MalformedRecordError).location).toBe("line 3");
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(message);
  });
});

describe("Parquet", () => {
  it("reads a text column across row groups", async () => {
    const texts = Array.from({ length: 25 }, (_, i) => `document ${i} ${"é".repeat(i)}`);
    const path = join(await tempDir(), "a.parquet");
    writeTextParquet(path, texts, { rowGroupSize: 10, extraColumn: true });
    expect(await read(path)).toEqual(texts.map((text) => ({ text })));
  });

  it("reads a messages column of {role, content} structs, as Hugging Face datasets write it", async () => {
    const path = join(await tempDir(), "chat.parquet");
    writeMessagesParquet(path, [chat.messages, [{ role: "user", content: "hi" }]]);
    expect(await read(path)).toEqual([chat, { messages: [{ role: "user", content: "hi" }] }]);
  });

  it("reads a messages column of JSON strings", async () => {
    const path = join(await tempDir(), "chat-json.parquet");
    parquetWriteFile({ filename: path, columnData: [{ name: "messages", data: [JSON.stringify(chat.messages)], type: "STRING" }] });
    expect(await read(path)).toEqual([chat]);
  });

  it("names the missing column", async () => {
    const path = join(await tempDir(), "none.parquet");
    parquetWriteFile({ filename: path, columnData: [{ name: "content", data: ["x"], type: "STRING" }] });
    const error = await read(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MissingColumnError);
    expect((error as Error).message).toMatch(/no column 'messages' or 'text' \(columns: content\)/);
  });

  it("names the row of a bad record", async () => {
    const path = join(await tempDir(), "null.parquet");
    parquetWriteFile({ filename: path, columnData: [{ name: "text", data: ["a", "b", null], type: "STRING" }] });
    const error = await read(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MalformedRecordError);
    expect((error as MalformedRecordError).location).toBe("row 2");
  });

  it("rejects a truncated file", async () => {
    const path = join(await tempDir(), "whole.parquet");
    writeTextParquet(path, ["a", "b"]);
    const { readFile } = await import("node:fs/promises");
    const bytes = await readFile(path);
    const truncated = await file("cut.parquet", bytes.subarray(0, bytes.length - 9));
    const error = await read(truncated).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MalformedFileError);
    expect((error as MalformedFileError).code).toBe("MALFORMED_FILE");
  });
});

it("rejects an unknown extension when called, naming the ones it knows", async () => {
  expect(() => readDocuments("corpus.csv")).toThrow(UnsupportedFormatError);
  expect(() => readDocuments("corpus.parquet.gz")).toThrow(/\.jsonl, \.ndjson, \.parquet/);
  expect(() => readDocuments("corpus.txt", { textUnit: "sentence" as never })).toThrow(/textUnit.*file, paragraph, line/);
});
