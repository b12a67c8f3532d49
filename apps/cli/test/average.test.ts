// gemma-ts average, run as a user runs it: the average of a model with itself is itself, SLERP at
// t = 0 is its first model, LITI at 0 is the base, a linear soup of two models lies between them;
// misuse and models of other architectures end with one line.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initLora, loraConfig, mergeLora, presetConfig } from "@gemma-ts/core";
import { loadHfCheckpoint, readSafetensors, saveLoraAdapter } from "@gemma-ts/core/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "gemma-ts-average-"));
const model = (name: string) => join(folder, name);

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  for (const [name, seed] of [["base", 1], ["a", 2], ["b", 3]] as const) expect(cli("init", "--preset", "gemma2-tiny", "--out", model(name), "--seed", String(seed)).status).toBe(0);
  expect(cli("init", "--preset", "gemma2-1m", "--out", model("other")).status).toBe(0);
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const weights = async (dir: string) => readSafetensors(join(dir, "model.safetensors"));
async function same(x: string, y: string): Promise<boolean> {
  const [a, b] = [await weights(x), await weights(y)];
  return [...a].every(([name, tensor]) => Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength).equals(Buffer.from(b.get(name)!.data.buffer, b.get(name)!.data.byteOffset, b.get(name)!.data.byteLength)));
}

describe("gemma-ts average", () => {
  it("keeps a model averaged with itself, returns SLERP's and LITI's endpoints, and mixes a soup", async () => {
    const run = (out: string, ...args: string[]) => {
      const result = cli("average", "--out", model(out), ...args);
      expect(result.status, result.stderr).toBe(0);
    };
    run("self", "--models", model("a"), model("a"), model("a"));
    expect(await same(model("self"), model("a"))).toBe(true);
    run("slerp0", "--method", "slerp", "--base", model("base"), "--models", model("a"), model("b"), "--t", "0");
    expect(await same(model("slerp0"), model("a"))).toBe(true);
    run("liti0", "--method", "liti", "--base", model("base"), "--models", model("a"), "--eta", "0");
    expect(await same(model("liti0"), model("base"))).toBe(true);
    run("soup", "--models", model("a"), model("b"), "--weights", "0.25,0.75");
    expect(await same(model("soup"), model("a"))).toBe(false);
    const [a, b, soup] = [await weights(model("a")), await weights(model("b")), await weights(model("soup"))];
    const name = "model.layers.0.mlp.up_proj.weight";
    const expected = 0.25 * Number(a.get(name)!.data[7]) + 0.75 * Number(b.get(name)!.data[7]);
    expect(Number(soup.get(name)!.data[7])).toBeCloseTo(expected, 6);
    run("warp", "--method", "warp", "--base", model("base"), "--models", model("a"), model("b"), "--eta", "1");
    expect(await same(model("warp"), model("a"))).toBe(false);
  });

  it("merges LoRA adapters into their base, so they average by their weight deltas", async () => {
    const config = presetConfig("gemma2-tiny");
    const lora = loraConfig(4, { targetModules: ["q_proj", "v_proj"] });
    const { params: base } = await loadHfCheckpoint(model("base"));
    const adapters = [5, 6].map((seed) => {
      const weights = initLora(config, lora, seed);
      // A trained adapter's B is not zero (it starts at zero, so the merge would be the base).
      for (const [name, tensor] of weights) if (name.includes("lora_B")) tensor.data.forEach((_, i) => (tensor.data[i] = Math.sin(seed * 7 + i) / 10));
      return weights;
    });
    for (const [i, weights] of adapters.entries()) await saveLoraAdapter(model(`adapter${i}`), lora, weights);
    const merged = adapters.map((weights) => mergeLora(config, lora, base, weights));
    const name = "model.layers.1.self_attn.q_proj.weight";
    const result = cli("average", "--out", model("adapter-soup"), "--models", model("adapter0"), model("adapter1"), "--base", model("base"));
    expect(result.status, result.stderr).toBe(0);
    const soup = await weights(model("adapter-soup"));
    const expected = (merged[0]!.get(name)!.data[11]! + merged[1]!.get(name)!.data[11]!) / 2;
    expect(Number(soup.get(name)!.data[11])).toBeCloseTo(expected, 6);
    expect(Number(soup.get(name)!.data[11])).not.toBeCloseTo(Number(base.get(name)!.data[11]), 4);
    const withoutBase = cli("average", "--out", model("x"), "--models", model("adapter0"));
    expect(withoutBase.status).toBe(1);
    expect(withoutBase.stderr).toMatch(/LoRA adapters need --base/);
  });

  it("refuses misuse and other architectures in one line", () => {
    const cases: [string[], RegExp][] = [
      [["--method", "slerp", "--models", model("a"), model("b")], /--method slerp needs --base/],
      [["--method", "slerp", "--base", model("base"), "--models", model("a")], /--method slerp takes 2 --models, got 1/],
      [["--models", model("a"), model("b"), "--weights", "1"], /--weights gives one weight per model/],
      [["--models", model("a"), model("other")], /has another architecture \(config\.json\)/],
      [["--models", model("a"), "--base", model("base")], /--base is for --method slerp, liti or warp/],
    ];
    for (const [args, message] of cases) {
      const result = cli("average", "--out", model("x"), ...args);
      expect(result.status, args.join(" ")).toBe(1);
      expect(result.stderr).toMatch(/^gemma-ts: [^\n]+\n$/);
      expect(result.stderr).toMatch(message);
    }
  });
});
