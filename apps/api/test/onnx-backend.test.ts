// A model folder exported to ONNX (onnx/model.onnx + config.json + tokenizer.json, no safetensors)
// is served through OnnxFolderModel, found in the model directory next to the safetensors folder it
// came from, and a greedy chat completion gives the same text on both backends.
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportOnnxFolder, loadHfCheckpoint } from "@gemma-ts/core/node";
import { ConfigurationError, createServer, loadServedModel, type GemmaServer } from "@gemma-ts/serve/http";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTestModel } from "./support/test-model.js";

const MODEL = "tiny";
const ONNX_MODEL = "tiny-onnx";
let root: string;
let server: GemmaServer;
let client: OpenAI;

beforeAll(async () => {
  // The model directory holds `tiny` (safetensors) and `tiny-onnx` (its export, no safetensors).
  root = mkdtempSync(join(tmpdir(), "gemma-ts-api-onnx-"));
  await writeTestModel(join(root, MODEL));
  const checkpoint = await loadHfCheckpoint(join(root, MODEL));
  await exportOnnxFolder(join(root, ONNX_MODEL), checkpoint.config, checkpoint.params);
  copyFileSync(join(root, MODEL, "tokenizer.json"), join(root, ONNX_MODEL, "tokenizer.json"));
  server = createServer({ modelDir: root, engine: { maxBatchSize: 2, threads: 1 } });
  const { url } = await server.listen(0, "127.0.0.1");
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 30_000 });
});
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

describe("an exported ONNX folder in the model directory", () => {
  it("lists it and answers a greedy chat completion with the core-backed folder's text", async () => {
    const ids = (await client.models.list()).data.map((model) => model.id);
    expect(ids).toEqual(expect.arrayContaining([MODEL, ONNX_MODEL]));
    const messages = [{ role: "user" as const, content: "What should the Congress do this year?" }];
    const ask = (model: string) => client.chat.completions.create({ model, messages, max_tokens: 24, temperature: 0 });
    const [core, onnx] = [await ask(MODEL), await ask(ONNX_MODEL)];
    expect(onnx.model).toBe(ONNX_MODEL);
    expect(onnx.usage).toEqual(core.usage);
    expect(onnx.choices[0]!.message.content).toBe(core.choices[0]!.message.content);
    expect(core.choices[0]!.message.content!.length).toBeGreaterThan(0);
  });

  it("refuses a forced backend whose files the folder lacks", async () => {
    await expect(loadServedModel(join(root, ONNX_MODEL), { backend: "core" })).rejects.toThrow(ConfigurationError);
    await expect(loadServedModel(join(root, MODEL), { backend: "onnx" })).rejects.toThrow(/no onnx\/model.onnx/);
  });
});
