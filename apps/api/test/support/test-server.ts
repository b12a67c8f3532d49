// A running server for a test file: the small test model written to a temp folder (random
// weights, or the briefly trained ones the client tests' global setup made), loaded once, served
// on 127.0.0.1 with an OS-chosen port, and an OpenAI SDK client pointed at it (retries off, so a
// 429 or 5xx shows up as it is). Call stop() in afterAll.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeServedModel, createServer, loadServedModel, type GemmaServer, type ServedModel, type ServerOptions } from "@gemma-ts/serve/http";
import OpenAI from "openai";
import { inject } from "vitest";
import { writeTestModel, type TestModelOptions } from "./test-model.js";
import { copyTrainedModel, trainedModelFolder } from "./trained-model.js";

export const MODEL = "tiny";

/** The client tests run on both: near-uniform logits, and peaked ones that prefer JSON, calls and prose. */
export const WEIGHTS = ["random", "trained"] as const;
export type Weights = (typeof WEIGHTS)[number];

export interface TestServer {
  server: GemmaServer;
  model: ServedModel;
  url: string;
  /** The folder holding the model folder `tiny` (usable as a modelDir). */
  root: string;
  client: OpenAI;
  stop(): Promise<void>;
}

export interface TestServerOptions extends Omit<ServerOptions, "models"> {
  maxBatchSize?: number;
  /** The test model's shape (default gemma2-tiny as writeTestModel makes it); of the trained model only `config` applies. */
  testModel?: TestModelOptions;
  /** Default random; trained needs the client tests' global setup (trained-model-setup.ts). */
  weights?: Weights;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const root = mkdtempSync(join(tmpdir(), "gemma-ts-api-"));
  const folder = join(root, MODEL);
  const { maxBatchSize, testModel, weights, ...serverOptions } = options;
  if (weights === "trained") await copyTrainedModel(await trainedModelFolder(inject("trainedModel")), folder, testModel?.config);
  else await writeTestModel(folder, testModel);
  const model = await loadServedModel(folder, { maxBatchSize: maxBatchSize ?? 4, threads: 1 });
  const server = createServer({ ...serverOptions, models: [model] });
  const { url } = await server.listen(0, "127.0.0.1");
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: options.apiKey ?? "unused", maxRetries: 0, timeout: 30_000 });
  return {
    server,
    model,
    url,
    root,
    client,
    async stop() {
      await server.close();
      await closeServedModel(model);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** POSTs raw JSON (or a raw string) and returns the status and parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text.length > 0 ? JSON.parse(text) : undefined };
}

/** Waits until `check` holds, polling; fails after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
