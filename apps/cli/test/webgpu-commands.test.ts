// --backend webgpu on the commands that run graphs: train (forward, backward and AdamW on the
// GPU) logs onnxruntime's losses, logits prints onnxruntime's logits, and greedy generate writes
// the same text. Dawn runs on SwiftShader's Vulkan driver here; without it the file is skipped.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTrainingCorpus, type TrainingCorpus } from "./support/training-corpus.js";

const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";
const folder = mkdtempSync(join(tmpdir(), "gemma-ts-webgpu-"));
let corpus: TrainingCorpus;

beforeAll(() => {
  corpus = writeTrainingCorpus(folder);
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 1 << 26, env: { ...process.env, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD } });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

const losses = (run: string) =>
  readFileSync(join(run, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { loss?: number })
    .flatMap((record) => (record.loss === undefined ? [] : [record.loss]));

describe.skipIf(!existsSync(SWIFTSHADER_ICD))("--backend webgpu", () => {
  it("train logs onnxruntime's losses within 1e-4 and records its backend; logits and greedy generate agree", () => {
    const runs = ["core", "webgpu"].map((backend) => {
      const out = join(folder, backend);
      cli("train", "--preset", "gemma2-tiny", "--data", corpus.txt, "--text-unit", "paragraph", "--out", out, "--steps", "6", "--batch-size", "2", "--seq-len", "32", "--threads", "1", "--backend", backend);
      return out;
    });
    const [cpu, gpu] = runs.map(losses) as [number[], number[]];
    expect(gpu.length).toBe(6);
    gpu.forEach((loss, step) => expect(Math.abs(loss - cpu[step]!), `step ${step}`).toBeLessThan(1e-4));
    expect(JSON.parse(readFileSync(join(runs[1]!, "run.json"), "utf8")).options.backend).toBe("webgpu");

    const logits = (backend: string) => (JSON.parse(cli("logits", "--model", runs[0]!, "--ids", "2,17,40,99", "--backend", backend)) as number[][]).flat();
    const [onCpu, onGpu] = [logits("core"), logits("webgpu")];
    expect(onGpu.length).toBe(onCpu.length);
    expect(Math.max(...onGpu.map((value, i) => Math.abs(value - onCpu[i]!)))).toBeLessThan(1e-5);

    const generate = (backend: string) => cli("generate", "--model", runs[0]!, "--prompt", "The state of the", "--temperature", "0", "--max-tokens", "12", "--backend", backend);
    const text = generate("core");
    expect(text.trim().length).toBeGreaterThan(0);
    expect(generate("webgpu")).toBe(text);
  });
});
