// The engine on an exported ONNX folder (OnnxFolderModel): the same greedy tokens as on the core's
// graphs (Gemma2Model), for requests decoded one at a time and batched together at different lengths.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportOnnxFolder, OnnxFolderModel } from "@gemma-ts/core/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine, type CompletionRequest } from "../src/index.js";
import { collect } from "./support/collect.js";
import { promptIds, smallModel, type SmallModel } from "./support/small-model.js";

let small: SmallModel;
let folder: string;
let onnx: OnnxFolderModel;

beforeAll(async () => {
  // A short window, so that decoding runs past it.
  small = await smallModel({ slidingWindow: 8 });
  folder = await mkdtemp(join(tmpdir(), "gemma-ts-serve-onnx-"));
  await exportOnnxFolder(folder, small.config, small.params);
  onnx = await OnnxFolderModel.load(folder, { intraOpThreads: 1 });
});

afterAll(async () => {
  await onnx?.dispose();
  await small?.model.dispose();
  await rm(folder, { recursive: true, force: true });
});

describe("Engine on an OnnxFolderModel", () => {
  it("produces the greedy tokens it produces on Gemma2Model, alone and batched", async () => {
    const requests: CompletionRequest[] = ["We the people of the United States", "Health care", "Tonight I ask the Congress to"].map((text) => ({
      promptIds: promptIds(small.tokenizer, text),
      maxTokens: 16,
      sampling: { temperature: 0 },
      stopTokens: [],
    }));
    const run = async (engine: Engine) => {
      const alone: number[][] = [];
      for (const request of requests) alone.push((await collect(engine.complete(request))).ids);
      const together = await Promise.all(requests.map(async (request) => (await collect(engine.complete(request))).ids));
      await engine.close();
      return { alone, together };
    };
    const options = { tokenizer: small.tokenizer, maxBatchSize: 4, contextLength: 128 };
    const fromCore = await run(new Engine({ model: small.model, ...options }));
    const fromOnnx = await run(new Engine({ model: onnx, ...options }));
    expect(fromCore.alone.every((ids) => ids.length === 16)).toBe(true);
    expect(fromOnnx).toEqual(fromCore);
    expect(fromOnnx.together).toEqual(fromOnnx.alone);
  });
});
