// Load test of the server: 1 streaming client, then 16 at once, against one server and one
// engine (continuous batching), with the OpenAI SDK as the client. Bounded: a fixed number of
// requests of a fixed length, each with a timeout. Prints aggregate completion tokens/s at 1 and
// 16 streams and the p50/p95 time to first token, and the same 16 streams on the engine directly
// (no HTTP), which is what the server's own overhead is measured against. `pnpm bench` (after a
// build), or: tsx bench/load.bench.ts --preset gemma2-7m --clients 16 --requests 2 --max-tokens 64
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { completionPromptIds } from "@gemma-ts/serve";
import { closeServedModel, createServer, loadServedModel } from "@gemma-ts/serve/http";
import OpenAI from "openai";
import { writeTestModel } from "../test/support/test-model.js";

const { values: flags } = parseArgs({
  options: {
    preset: { type: "string", default: "gemma2-7m" },
    clients: { type: "string", default: "16" },
    requests: { type: "string", default: "2" },
    "single-requests": { type: "string", default: "8" },
    "max-tokens": { type: "string", default: "64" },
    threads: { type: "string", default: String(Math.min(2, availableParallelism())) },
    "timeout-s": { type: "string", default: "120" },
  },
});
const CLIENTS = Number(flags.clients);
const REQUESTS_PER_CLIENT = Number(flags.requests);
const SINGLE_REQUESTS = Number(flags["single-requests"]);
const MAX_TOKENS = Number(flags["max-tokens"]);
const TIMEOUT_MS = Number(flags["timeout-s"]) * 1000;

interface RequestResult {
  tokens: number;
  ttftMs: number;
}

const root = mkdtempSync(join(tmpdir(), "gemma-ts-bench-"));
try {
  const folder = join(root, "bench");
  await writeTestModel(folder, { preset: flags.preset, vocabSize: 8000, corpusBytes: 1_000_000 });
  const model = await loadServedModel(folder, { maxBatchSize: CLIENTS, threads: Number(flags.threads) });
  const server = createServer({ models: [model], maxConcurrent: CLIENTS * 2, maxTokensLimit: MAX_TOKENS });
  const { url } = await server.listen(0, "127.0.0.1");
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "bench", maxRetries: 0, timeout: TIMEOUT_MS });

  let seed = 0;
  const prompt = "The state of the Union is";
  const streamOne = async (): Promise<RequestResult> => {
    const started = performance.now();
    let ttftMs = Number.NaN;
    let tokens = 0;
    const stream = await client.completions.create(
      // stop: null and a fixed budget, so every request asks for the same work.
      { model: "bench", prompt, max_tokens: MAX_TOKENS, temperature: 1, seed: seed++, stream: true, stream_options: { include_usage: true } },
      { signal: AbortSignal.timeout(TIMEOUT_MS) },
    );
    for await (const chunk of stream) {
      if (Number.isNaN(ttftMs) && chunk.choices[0]?.text) ttftMs = performance.now() - started;
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
    return { tokens, ttftMs };
  };
  // The same request on the engine itself: what HTTP, JSON and SSE add is the difference.
  const promptIds = completionPromptIds(model.tokenizer, prompt);
  const engineOne = async (): Promise<RequestResult> => {
    const started = performance.now();
    let ttftMs = Number.NaN;
    const completion = model.engine.complete({ promptIds, maxTokens: MAX_TOKENS, sampling: { temperature: 1, seed: seed++ } });
    for await (const chunk of completion.chunks) if (Number.isNaN(ttftMs) && chunk.text) ttftMs = performance.now() - started;
    return { tokens: (await completion.usage).completionTokens, ttftMs };
  };
  const scenario = async (label: string, clients: number, requestsPerClient: number, one = streamOne) => {
    const started = performance.now();
    const results = (await Promise.all(Array.from({ length: clients }, async () => {
      const mine: RequestResult[] = [];
      for (let i = 0; i < requestsPerClient; i++) mine.push(await one());
      return mine;
    }))).flat();
    const seconds = (performance.now() - started) / 1000;
    const tokens = results.reduce((sum, result) => sum + result.tokens, 0);
    const ttft = results.map((result) => result.ttftMs).filter(Number.isFinite).sort((a, b) => a - b);
    return { label, clients, requests: results.length, tokens, seconds, tokensPerSecond: tokens / seconds, p50: quantile(ttft, 0.5), p95: quantile(ttft, 0.95) };
  };

  // Warm-up: compiles the prefill and decode graphs for one row and for a full batch.
  await scenario("", 1, 1);
  await scenario("", CLIENTS, 1);
  const one = await scenario("HTTP", 1, SINGLE_REQUESTS);
  const many = await scenario("HTTP", CLIENTS, REQUESTS_PER_CLIENT);
  const direct = await scenario("engine", CLIENTS, REQUESTS_PER_CLIENT, engineOne);

  console.log(`model ${flags.preset} (vocab 8000, random weights), ${MAX_TOKENS} tokens per request, onnxruntime threads ${flags.threads}, engine maxBatchSize ${CLIENTS}`);
  console.log("via     streams  requests  tokens  seconds  tokens/s  TTFT p50 ms  TTFT p95 ms");
  for (const row of [one, many, direct]) {
    console.log(
      `${row.label.padEnd(6)}  ${String(row.clients).padStart(7)}  ${String(row.requests).padStart(8)}  ${String(row.tokens).padStart(6)}  ${row.seconds.toFixed(2).padStart(7)}  ${row.tokensPerSecond.toFixed(1).padStart(8)}  ${row.p50.toFixed(1).padStart(11)}  ${row.p95.toFixed(1).padStart(11)}`,
    );
  }
  console.log(`aggregate speed-up at ${CLIENTS} streams: ${(many.tokensPerSecond / one.tokensPerSecond).toFixed(2)}x; HTTP keeps ${((100 * many.tokensPerSecond) / direct.tokensPerSecond).toFixed(0)}% of the engine's own rate`);
  await server.close();
  await closeServedModel(model);
} finally {
  rmSync(root, { recursive: true, force: true });
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
