// The server under a flood of hostile traffic on 127.0.0.1, several requests at a time: fuzzed
// bodies, valid generations (streamed or not), missing and wrong API keys, clients that leave
// before or in the middle of a stream, model names that try to leave the model directory, and
// what only a raw socket sends (malformed URLs, oversized headers, garbage, no Host, an Expect,
// pipelined garbage). Every response must keep the contract (no 5xx, OpenAI's error shape), and
// afterwards the server still answers, every request slot is free, no engine row is busy, and the
// heap, after a collection, is within a bound of what it was after a warm-up.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { fuzzRuns } from "@gemma-ts/fuzz";
import { createServer, type GemmaServer } from "@gemma-ts/serve/http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest } from "../support/raw-http.js";
import { writeTestModel } from "../support/test-model.js";
import { bodyCase, type BodyCase } from "./request-bodies.js";
import { contractViolation, type SeenResponse } from "./response-contract.js";

const KEY = "sk-flood";
const MODEL = "tiny";
const RUNS = fuzzRuns(300);
const CONCURRENCY = 8;
/** Heap growth allowed from after the warm-up to the end, after a collection each time. */
const HEAP_BOUND = 48 * 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let root: string;
let server: GemmaServer;
let url: string;
let port: number;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "gemma-ts-flood-"));
  const modelDir = join(root, "models");
  mkdirSync(modelDir);
  await writeTestModel(join(modelDir, MODEL));
  // A folder next to the model directory that a traversal would reach.
  mkdirSync(join(root, "secret"));
  writeFileSync(join(root, "secret", "config.json"), "{}");
  server = createServer({ modelDir, apiKey: KEY, maxConcurrent: 16, maxTokensLimit: 16, engine: { maxBatchSize: 4, threads: 1 } });
  ({ url, port } = await server.listen(0, "127.0.0.1"));
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${KEY}` };
const chat = { model: MODEL, messages: [{ role: "user", content: "Hi" }] };
const TRAVERSALS = ["../secret", "..", ".", "/etc/passwd", "../models/tiny", "tiny/../tiny", "tiny/", "..\\secret", "%2e%2e/secret", ".hidden", "tiny\u0000", "secret", ""];

/** One request of the flood, and what kind it is. */
type Shot =
  | { kind: "body"; case: BodyCase }
  | { kind: "valid"; endpoint: "/v1/chat/completions" | "/v1/completions"; stream: boolean; maxTokens: number }
  | { kind: "key"; authorization: string | undefined }
  | { kind: "leave"; when: "before" | "mid-stream" }
  | { kind: "traversal"; model: string; where: "body" | "url" }
  | { kind: "raw"; request: string };

const rawShots = fc.constantFrom(
  `GET /v1/models/%E0%A4%A HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\n\r\n`,
  "GET /v1/models/%E0%A4%A HTTP/1.1\r\nhost: x\r\n\r\n",
  `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-padding: ${"a".repeat(40_000)}\r\n\r\n`,
  "GARBAGE\r\n\r\n",
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
  `GET /v1/models HTTP/1.1\r\nauthorization: Bearer ${KEY}\r\n\r\n`,
  `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\nexpect: 200-ok\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`,
  `DELETE /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\n\r\n`,
  `GET /v1/embeddings HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\n\r\n`,
  `GET /v1/models/${"a".repeat(400)} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\n\r\n`,
  `POST /v1/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n`,
  `GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\n\r\nGARBAGE\r\n\r\n`,
);

const shot: fc.Arbitrary<Shot> = fc.oneof(
  { arbitrary: bodyCase.map((one) => ({ kind: "body" as const, case: one })), weight: 8 },
  {
    arbitrary: fc.record({ kind: fc.constant("valid" as const), endpoint: fc.constantFrom("/v1/chat/completions" as const, "/v1/completions" as const), stream: fc.boolean(), maxTokens: fc.integer({ min: 1, max: 8 }) }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant("key" as const), authorization: fc.constantFrom(undefined, "", "Bearer", "Bearer sk-wrong", KEY, `Bearer ${KEY}x`, `Basic ${KEY}`, `Bearer ${"k".repeat(8_000)}`) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("leave" as const), when: fc.constantFrom("before" as const, "mid-stream" as const) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("traversal" as const), model: fc.constantFrom(...TRAVERSALS), where: fc.constantFrom("body" as const, "url" as const) }), weight: 2 },
  { arbitrary: rawShots.map((request) => ({ kind: "raw" as const, request })), weight: 3 },
);

async function fetched(response: Response): Promise<SeenResponse> {
  return { status: response.status, contentType: response.headers.get("content-type") ?? undefined, body: await response.text() };
}

const post = (path: string, body: unknown, headers: Record<string, string> = auth, signal?: AbortSignal) =>
  fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });

/** Sends one shot; returns what came back (undefined for a client that left), or a violation of its own. */
async function fire(one: Shot): Promise<{ seen?: SeenResponse; violation?: string }> {
  switch (one.kind) {
    case "body": {
      const headers: Record<string, string> = { ...auth, ...(one.case.contentType === "" ? {} : { "content-type": one.case.contentType }) };
      return { seen: await fetched(await fetch(`${url}${one.case.endpoint}`, { method: "POST", headers, body: Buffer.from(one.case.body) })) };
    }
    case "valid": {
      const body = one.endpoint === "/v1/completions" ? { model: MODEL, prompt: "The", max_tokens: one.maxTokens, stream: one.stream } : { ...chat, max_tokens: one.maxTokens, stream: one.stream };
      const seen = await fetched(await post(one.endpoint, body));
      return { seen, ...(seen.status === 200 ? {} : { violation: `a valid request got ${seen.status}: ${seen.body.slice(0, 200)}` }) };
    }
    case "key": {
      const seen = await fetched(await post("/v1/chat/completions", { ...chat, max_tokens: 2 }, one.authorization === undefined ? {} : { authorization: one.authorization }));
      return { seen, ...(seen.status === 401 ? {} : { violation: `a request with authorization ${JSON.stringify(one.authorization?.slice(0, 40))} got ${seen.status}` }) };
    }
    case "leave": {
      const controller = new AbortController();
      try {
        const pending = post("/v1/chat/completions", { ...chat, max_tokens: 16, stream: true }, auth, controller.signal);
        if (one.when === "before") controller.abort();
        const response = await pending;
        await response.body?.getReader().read();
        controller.abort();
      } catch (error) {
        if ((error as Error).name !== "AbortError") throw error;
      }
      return {};
    }
    case "traversal": {
      const seen =
        one.where === "body"
          ? await fetched(await post("/v1/completions", { model: one.model, prompt: "The", max_tokens: 2 }))
          : await fetched(await fetch(`${url}/v1/models/${encodeURIComponent(one.model)}`, { headers: auth }));
      return { seen, ...(seen.status === 200 ? { violation: `model name ${JSON.stringify(one.model)} was served` } : {}) };
    }
    case "raw": {
      const response = await rawRequest(port, one.request, { closeWaitMs: 0 });
      return { seen: { status: response.status, contentType: response.headers["content-type"], body: response.body } };
    }
  }
}

/** Fires every shot, CONCURRENCY at a time; tallies statuses by kind and collects violations. */
async function flood(shots: Shot[]): Promise<{ tally: Map<string, number>; violations: { shot: string; violation: string }[] }> {
  const tally = new Map<string, number>();
  const violations: { shot: string; violation: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < shots.length) {
      const one = shots[next++]!;
      const shown = JSON.stringify(one.kind === "body" ? { kind: one.kind, endpoint: one.case.endpoint, changes: one.case.changes } : one).slice(0, 300);
      try {
        const { seen, violation } = await fire(one);
        const key = `${one.kind} ${seen?.status ?? "left"}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
        const broken = violation ?? (seen ? contractViolation(seen) : undefined);
        if (broken) violations.push({ shot: shown, violation: broken });
      } catch (error) {
        violations.push({ shot: shown, violation: `the request failed: ${(error as Error).message}` });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { tally, violations };
}

async function health(): Promise<{ status: string; in_flight: number; models: { running: number; queued: number }[] }> {
  return (await fetch(`${url}/health`)).json() as Promise<never>;
}

/** Waits for the server to settle: no request in flight, no engine row busy or queued. */
async function settled(): Promise<void> {
  for (let tries = 0; tries < 500; tries++) {
    const state = await health();
    if (state.in_flight === 0 && state.models.every((model) => model.running === 0 && model.queued === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the server did not settle: ${JSON.stringify(await health())}`);
}

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("API flood", () => {
  it("keeps the contract, frees every slot and holds its memory", { timeout: 120_000 + RUNS * 400 }, async () => {
    const shots = fc.sample(shot, { numRuns: RUNS, seed: 93 });
    const warmUp = Math.max(20, Math.floor(RUNS / 10));
    const first = await flood(shots.slice(0, warmUp));
    await settled();
    const heapBefore = heapAfterGc();
    const rssBefore = process.memoryUsage().rss;
    const rest = await flood(shots.slice(warmUp));
    await settled();
    const heapAfter = heapAfterGc();
    const rssAfter = process.memoryUsage().rss;

    const tally = new Map(first.tally);
    for (const [key, count] of rest.tally) tally.set(key, (tally.get(key) ?? 0) + count);
    const violations = [...first.violations, ...rest.violations];
    const counts = [...tally].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, count]) => `${key}: ${count}`);
    const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `fuzz api flood: ${shots.length} requests (${counts.join(", ")}), ${violations.length} findings; heap ${mb(heapBefore)} -> ${mb(heapAfter)}, rss ${mb(rssBefore)} -> ${mb(rssAfter)}`,
    );
    expect(violations).toEqual([]);
    expect(heapAfter - heapBefore).toBeLessThan(HEAP_BOUND);
    const after = await post("/v1/completions", { model: MODEL, prompt: "The", max_tokens: 2 });
    expect(after.status).toBe(200);
    expect((await health()).in_flight).toBe(0);
  });
});
