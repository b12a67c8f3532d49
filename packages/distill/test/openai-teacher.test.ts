// The HTTP teacher against `gemma-ts serve`'s OpenAI endpoint (createServer on 127.0.0.1, an API
// key set) over the model folder LocalTeacher reads in process: a random tiny Gemma 2 whose final
// soft-cap engages, documents longer than a window. Stores filled both ways hold the same ids and
// log-probs at every position (vLLM's prompt_logprobs and OpenAI's echo alike), which proves the
// alignment: the distribution at t is the next token's, the last position of a window included.
// A server of another vocabulary is refused; a flaky endpoint is retried; a dead one ends in a
// TeacherRequestError after the bounded attempts, and the store run resumes; the API key goes out
// on every request, and a refused or missing one is a TeacherAuthError that never shows the key;
// what log-probs cannot give exactly (sampling, another temperature) is refused.
import { readdir, readFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TokenShards } from "@gemma-ts/data";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backoffDelay,
  LocalTeacher,
  OpenAITeacher,
  type OpenAITeacherOptions,
  openTeacherStore,
  TeacherAuthError,
  TeacherRequestError,
  type Teacher,
  type TeacherRow,
  type TeacherStoreIndex,
  VocabularyMismatchError,
  type WriteTeacherStoreOptions,
  writeTeacherStore,
} from "../src/index.js";
import { TokenStrings } from "../src/token-strings.js";
import { cleanup, generatedTexts, tempDir, writeShards } from "./support/fixtures.js";
import { faultyServer, type ModelFolder, type RunningServer, serveFolders, writeModelFolder } from "./support/served-teacher.js";

const API_KEY = "teacher-key";
/** The served context is the config's 48; the HTTP teacher reads rows of up to 48 - 2. */
const WINDOW = 46;
const FAST_RETRY = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

let folder: ModelFolder;
let shards: TokenShards;
let local: LocalTeacher;
let served: RunningServer;
let localStore: string;

beforeAll(async () => {
  folder = await writeModelFolder();
  const stranger = await writeModelFolder({ tokenizerSeed: 99 });
  // The student's strings at every id below 512, and 8 more ids.
  const wider = await writeModelFolder({ extraTokens: 8 });
  expect(wider.tokenizer.vocabSize).toBe(folder.tokenizer.vocabSize + 8);
  shards = await writeShards(folder.tokenizer, generatedTexts(24, 7));
  local = await LocalTeacher.fromFolder(folder.dir, { threads: 1 });
  served = await serveFolders({ tiny: folder.dir, stranger: stranger.dir, wider: wider.dir }, { apiKey: API_KEY });
  localStore = await tempDir();
  await writeTeacherStore(storeOptions(local, localStore));
}, 120_000);

afterAll(async () => {
  await served?.stop();
  await local?.close();
  await shards?.close();
  await cleanup();
});

function storeOptions(teacher: Teacher, outDir: string, more: Partial<WriteTeacherStoreOptions> = {}): WriteTeacherStoreOptions {
  return { teacher, shards, outDir, mode: "top-k", k: 8, temperature: 1, valueDtype: "float32", windowLength: WINDOW, batchTokens: 200, chunkPositions: 128, ...more };
}

function connectOptions(options: Partial<OpenAITeacherOptions> = {}): OpenAITeacherOptions {
  return { url: served.url, tokenizer: folder.tokenizer, model: "tiny", apiKey: API_KEY, contextLength: 48, retry: FAST_RETRY, ...options };
}

function connect(options: Partial<OpenAITeacherOptions> = {}): Promise<OpenAITeacher> {
  return OpenAITeacher.connect(connectOptions(options));
}

async function chunkHashes(dir: string): Promise<string[]> {
  const index: TeacherStoreIndex = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
  return index.chunks.map((chunk) => chunk.sha256);
}

/** Both stores at every position: the same tokens and ids, log-probs and residuals within `tolerance`. */
async function expectSameEntries(a: string, b: string, tolerance: number): Promise<{ positions: number; worst: number; windowEnds: number }> {
  const left = await openTeacherStore(a, { shards });
  const right = await openTeacherStore(b, { shards });
  const { k, positions } = left.index;
  expect(right.index.k).toBe(k);
  const x = await left.readRange(0, positions);
  const y = await right.readRange(0, positions);
  expect(Array.from(y.tokens)).toEqual(Array.from(x.tokens));
  expect(Array.from(y.ids)).toEqual(Array.from(x.ids));
  let worst = 0;
  for (let i = 0; i < positions * k; i++) worst = Math.max(worst, Math.abs(x.logprobs[i]! - y.logprobs[i]!));
  for (let p = 0; p < positions; p++) expect(Math.abs(x.residual[p]! - y.residual[p]!)).toBeLessThan(tolerance);
  expect(worst).toBeLessThan(tolerance);
  // Positions that end a window (the appended id's entry): the last of a document, or of a window of a longer one.
  let windowEnds = 0;
  for (let d = 0; d < shards.documentCount; d++) windowEnds += Math.ceil(shards.documentLengthOf(d) / WINDOW);
  await left.close();
  await right.close();
  return { positions, worst, windowEnds };
}

describe("a store filled from gemma-ts serve equals one filled from the local checkpoint", () => {
  it("the corpus has documents longer than a window", () => {
    const longest = Math.max(...Array.from({ length: shards.documentCount }, (_, d) => shards.documentLengthOf(d)));
    expect(longest).toBeGreaterThan(WINDOW);
  });

  it("prompt_logprobs (ids), batched and concurrent: the same ids and log-probs within 1e-5 at every position", async () => {
    const teacher = await connect({ batchSize: 3, concurrency: 2 });
    expect(teacher.scoring).toBe("prompt_logprobs");
    expect(teacher.maxContext).toBe(WINDOW);
    expect(teacher.vocabulary).toEqual(local.vocabulary);
    const dir = await tempDir();
    const index = await writeTeacherStore(storeOptions(teacher, dir));
    expect(index.positions).toBe(shards.tokenCount);
    const { positions, worst, windowEnds } = await expectSameEntries(localStore, dir, 1e-5);
    expect(positions).toBe(shards.tokenCount);
    expect(windowEnds).toBeGreaterThan(shards.documentCount);
    console.log(`prompt_logprobs: ${positions} positions, largest log-prob difference ${worst.toExponential(2)}`);
    await teacher.close();
  });

  it("echo + logprobs (token strings mapped back to ids): the same entries; a string several ids show is refused", async () => {
    const teacher = await connect({ scoring: "echo", batchSize: 8 });
    expect(teacher.scoring).toBe("echo");
    const k = 2;
    const request = { mode: "top-k", k, temperature: 1, seed: 0 } as const;
    // This vocabulary shows some ids alike (a byte-fallback <0x70> and the token "p" are both "p"):
    // rows whose top-k strings are all unique map back exactly, the others cannot. Short rows
    // (4 ids from each quarter of each document) give enough of both.
    const strings = new TokenStrings(folder.tokenizer, folder.tokenizer.vocabSize);
    const clear: TeacherRow[] = [];
    const unclear: TeacherRow[] = [];
    let start = 0;
    for (let d = 0; d < shards.documentCount; d++) {
      const { ids } = await shards.readDocument(d);
      start += ids.length;
      for (const from of [0, ids.length >> 2, ids.length >> 1, (3 * ids.length) >> 2]) {
        const row = { ids: ids.slice(from, from + 4), position: start - ids.length + from };
        const scores = await local.score([row], request);
        (Array.from(scores.ids).every((id) => typeof strings.idOf(strings.display(id)) === "number") ? clear : unclear).push(row);
      }
    }
    expect(clear.length).toBeGreaterThan(4);
    expect(unclear.length).toBeGreaterThan(0);
    const expected = await local.score(clear, request);
    const got = await teacher.score(clear, request);
    expect(Array.from(got.ids)).toEqual(Array.from(expected.ids));
    let worst = 0;
    for (let i = 0; i < got.logprobs.length; i++) worst = Math.max(worst, Math.abs(got.logprobs[i]! - expected.logprobs[i]!));
    expect(worst).toBeLessThan(1e-5);
    for (let p = 0; p < got.positions; p++) expect(Math.abs(got.residual[p]! - expected.residual[p]!)).toBeLessThan(1e-5);
    console.log(`echo: ${clear.length} rows (${got.positions} positions) equal, largest difference ${worst.toExponential(2)}; ${unclear.length} rows ambiguous`);
    await expect(teacher.score(unclear.slice(0, 1), request)).rejects.toMatchObject({ code: "TEACHER_RESPONSE_INVALID" });
    await expect(teacher.score(unclear.slice(0, 1), request)).rejects.toThrow(/shown alike for several ids/);
    await teacher.close();
  });

  it("float16 stores agree within the quantization step (chunk for chunk byte-identical when the values are equal)", async () => {
    const teacher = await connect();
    const http = await tempDir();
    const reference = await tempDir();
    await writeTeacherStore(storeOptions(teacher, http, { valueDtype: "float16", k: 16 }));
    await writeTeacherStore(storeOptions(local, reference, { valueDtype: "float16", k: 16 }));
    // Float16 steps are 2^-11 relative; the two runs differ by ~1e-7, so a value lands on another
    // float16 only when it sits that close to a rounding midpoint: compare values, count the bytes.
    const { worst } = await expectSameEntries(reference, http, 2 ** -11 * 20);
    const [a, b] = [await chunkHashes(reference), await chunkHashes(http)];
    const same = a.filter((hash, i) => hash === b[i]).length;
    console.log(`float16: ${same} of ${a.length} chunks byte-identical; largest difference ${worst.toExponential(2)}`);
    await teacher.close();
  });
});

describe("the vocabulary check", () => {
  it("refuses a server whose tokenizer has other token strings", async () => {
    const attempt = connect({ model: "stranger" });
    await expect(attempt).rejects.toBeInstanceOf(VocabularyMismatchError);
    await expect(attempt).rejects.toMatchObject({ code: "VOCABULARY_MISMATCH", field: "tokenizer" });
  });

  it("refuses a server whose vocabulary is larger, with the same strings below the student's size", async () => {
    await expect(connect({ model: "wider" })).rejects.toMatchObject({ code: "VOCABULARY_MISMATCH", field: "vocabSize" });
  });
});

describe("a flaky or failing endpoint", () => {
  it("503 and 429 answers are retried with backoff, and the store equals the one filled directly", async () => {
    const direct = await connect();
    const reference = await tempDir();
    await writeTeacherStore(storeOptions(direct, reference));
    await direct.close();
    // Request 0 is GET /models; then the probe (1: 503, 2: 429, 3 passes), the size probe, scoring (7 and 8 fail).
    const faults: Record<number, number> = { 1: 503, 2: 429, 7: 503, 8: 502 };
    const flaky = await faultyServer(served.url, (n) => faults[n]);
    try {
      const teacher = await connect({ url: flaky.url });
      const dir = await tempDir();
      await writeTeacherStore(storeOptions(teacher, dir));
      expect(flaky.seen.filter((request) => request.status >= 500 || request.status === 429)).toHaveLength(4);
      expect(await chunkHashes(dir)).toEqual(await chunkHashes(reference));
      await teacher.close();
    } finally {
      await flaky.close();
    }
  });

  it("an endpoint that always fails ends in a TeacherRequestError after the bounded attempts", async () => {
    const dead = await faultyServer(undefined, () => 503);
    try {
      const attempt = connect({ url: dead.url });
      await expect(attempt).rejects.toBeInstanceOf(TeacherRequestError);
      await expect(attempt).rejects.toMatchObject({ code: "TEACHER_REQUEST_FAILED", status: 503, attempts: FAST_RETRY.attempts });
      expect(dead.seen).toHaveLength(FAST_RETRY.attempts);
    } finally {
      await dead.close();
    }
    // Nothing listening: network errors, retried as well.
    await expect(connect({ url: dead.url })).rejects.toMatchObject({ code: "TEACHER_REQUEST_FAILED", status: undefined, attempts: FAST_RETRY.attempts });
  });

  it("a refusal (a wrong API key) is not retried: a TeacherAuthError naming the URL, never the key", async () => {
    const attempt = connect({ apiKey: "wrong-key-1234" });
    await expect(attempt).rejects.toBeInstanceOf(TeacherAuthError);
    await expect(attempt).rejects.toMatchObject({ code: "TEACHER_REQUEST_FAILED", status: 401, attempts: 1, keySent: true });
    await expect(attempt).rejects.toThrow(`${served.url}/v1/models: HTTP 401: the endpoint refused the API key`);
    const message = await attempt.catch((error: Error) => error.message);
    expect(message).not.toContain("wrong-key-1234");
  });

  it("no API key for an endpoint that wants one: a TeacherAuthError saying none was sent", async () => {
    const { apiKey: _, ...keyless } = { ...connectOptions() };
    const attempt = OpenAITeacher.connect(keyless);
    await expect(attempt).rejects.toBeInstanceOf(TeacherAuthError);
    await expect(attempt).rejects.toMatchObject({ status: 401, attempts: 1, keySent: false });
    await expect(attempt).rejects.toThrow(`${served.url}/v1/models: HTTP 401: the endpoint requires an API key and none was sent`);
  });

  it("the key goes out as Authorization: Bearer on every request, the models probe and the completions", async () => {
    const headers: (string | undefined)[] = [];
    const proxy = await faultyServer(served.url, (_, request) => {
      headers.push(request.headers.authorization);
      return undefined;
    });
    try {
      const teacher = await connect({ url: proxy.url });
      await teacher.score([{ ids: Int32Array.from([2, 5, 7]), position: 0 }], { mode: "top-k", k: 4, temperature: 1, seed: 0 });
      await teacher.close();
      expect(proxy.seen.map((request) => `${request.method} ${request.path}`)).toEqual(["GET /v1/models", ...Array.from({ length: proxy.seen.length - 1 }, () => "POST /v1/completions")]);
      expect(proxy.seen.length).toBeGreaterThanOrEqual(3);
      expect(headers).toEqual(proxy.seen.map(() => `Bearer ${API_KEY}`));
    } finally {
      await proxy.close();
    }
  });

  it("a server message quoting the key is masked; a key that cannot be a header value is refused without being shown", async () => {
    const secret = "sk-secret-5678";
    const quoting = createHttpServer((_, response) => {
      response.writeHead(401, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${secret}.` } }));
    });
    await new Promise<void>((resolve) => quoting.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(quoting.address() as AddressInfo).port}`;
      const message = await connect({ url, apiKey: secret }).catch((error: Error) => error.message);
      expect(message).toMatch(/refused the API key \(server: Incorrect API key provided: <api key>\.\)/);
      expect(message).not.toContain(secret);
    } finally {
      await new Promise<void>((resolve) => quoting.close(() => resolve()));
    }
    for (const bad of ["", "two words", "line\nbreak"]) {
      const attempt = connect({ apiKey: bad });
      await expect(attempt).rejects.toMatchObject({ code: "INVALID_ARGUMENT", argument: "apiKey" });
      if (bad !== "") expect(await attempt.catch((error: Error) => error.message)).not.toContain(bad);
    }
  });

  it("a store run whose endpoint dies mid-way stops with the typed error and, rerun, ends identical", async () => {
    const direct = await connect();
    const reference = await tempDir();
    await writeTeacherStore(storeOptions(direct, reference));
    // Connect (3 requests) and 6 scoring requests pass; everything after fails.
    const dying = await faultyServer(served.url, (n) => (n >= 9 ? 503 : undefined));
    const dir = await tempDir();
    try {
      const teacher = await connect({ url: dying.url });
      await expect(writeTeacherStore(storeOptions(teacher, dir))).rejects.toBeInstanceOf(TeacherRequestError);
      await teacher.close();
    } finally {
      await dying.close();
    }
    const kept = (await readdir(dir)).filter((name) => name.startsWith("chunk-"));
    expect(kept.length).toBeGreaterThan(0);
    await writeTeacherStore(storeOptions(direct, dir));
    expect(await chunkHashes(dir)).toEqual(await chunkHashes(reference));
    await direct.close();
  });
});

describe("backoff", () => {
  it("doubles from the base, jittered within its upper half, at least Retry-After, at most the ceiling", () => {
    const policy = { attempts: 6, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, policy, null, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelay(3, policy, null, () => 0)).toBe(200);
    expect(backoffDelay(1, policy, "0.5", () => 0)).toBe(500);
    expect(backoffDelay(1, policy, "30", () => 0)).toBe(1000);
    expect(backoffDelay(1, policy, "soon", () => 0)).toBe(50);
  });
});

describe("what an HTTP teacher cannot serve exactly is refused", () => {
  it("sample mode (it needs the whole distribution) and a temperature other than 1", async () => {
    const teacher = await connect();
    const dir = await tempDir();
    await expect(writeTeacherStore(storeOptions(teacher, dir, { mode: "sample", k: 8 }))).rejects.toMatchObject({ code: "INVALID_ARGUMENT", argument: "mode" });
    await expect(writeTeacherStore(storeOptions(teacher, dir, { temperature: 2 }))).rejects.toMatchObject({ code: "INVALID_ARGUMENT", argument: "temperature" });
    const rows = [{ ids: Int32Array.from([2, 5, 7]), position: 0 }];
    await expect(teacher.score(rows, { mode: "sample", k: 4, temperature: 1, seed: 0 })).rejects.toThrow(/draws from the teacher's whole distribution/);
    expect((await readdir(dir)).filter((name) => name.startsWith("chunk-"))).toEqual([]);
    await teacher.close();
  });
});
