// gemma-ts experiment distill --quick, run as a user runs it (the built binary): the whole pipeline
// (data, teacher, stores, every student variant, on-policy against off-policy, the report) ends
// with results.json, results.md beside the Gemma 2 report's Table 7, and two SVG plots; the scratch
// student at equal compute used the headline student's compute; a rerun skips every finished stage.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "gemma-ts-experiment-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

interface Results {
  plan: { name: string; storeK: number; evalEvery: number; student: { steps: number; batchSize: number; seqLen: number } };
  teacher: { perplexity: number };
  stores: { mode: string; k: number; tokens: number; bytesPerToken: number }[];
  students: { student: string; variant: string; seed: number; steps: number; perplexity: number; flops: number; evalCurve: unknown[] }[];
  onPolicy: { seed: number; start: { divergence: number }; variants: { lambda: number; perplexity: number; divergence: number }[] }[];
  summary: { variant: string; meanRatio: number }[];
}

describe("gemma-ts experiment distill --quick", () => {
  it("runs the whole ablation into results.json, results.md and plots, and a rerun skips what is done", { timeout: 600_000 }, () => {
    const out = join(folder, "quick");
    const first = cli("experiment", "distill", "--out", out, "--quick", "--threads", "1");
    expect(first).toMatch(/\[1\/14\] data/);
    expect(first).toMatch(/\[14\/14\] report/);

    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as Results;
    expect(results.plan.name).toBe("quick");
    expect(results.stores.map((store) => [store.mode, store.k, store.bytesPerToken])).toEqual([
      ["top-k", 8, 38],
      ["sample", 8, 38],
    ]);
    expect(results.students.map((run) => run.variant)).toEqual(["scratch", "scratch, equal compute", "top-1", "top-8", "top-8, KD alone", "sampled-8", "sampled-8, KD alone", "full", "full, KD alone"]);
    for (const run of results.students) {
      expect(run.perplexity).toBeGreaterThan(1);
      expect(run.perplexity).toBeLessThan(8000);
      expect(run.evalCurve.length).toBe(Math.ceil(run.steps / results.plan.evalEvery));
    }
    // Equal compute: the scratch student's extra steps cost what the teacher's store cost the distilled one.
    const byVariant = (variant: string) => results.students.find((run) => run.variant === variant)!;
    const { steps, batchSize, seqLen } = results.plan.student;
    const stepFlops = byVariant("scratch").flops / steps;
    expect(byVariant("scratch, equal compute").steps).toBeGreaterThan(steps);
    expect(Math.abs(byVariant("scratch, equal compute").flops - byVariant("sampled-8, KD alone").flops)).toBeLessThanOrEqual(stepFlops / 2);
    expect(stepFlops).toBeCloseTo(6 * 1_029_696 * batchSize * seqLen, -3);
    expect(results.onPolicy).toHaveLength(1);
    expect(results.onPolicy[0]!.variants.map((variant) => variant.lambda)).toEqual([0, 1]);
    for (const variant of results.onPolicy[0]!.variants) expect(variant.divergence).toBeGreaterThan(0);

    const report = readFileSync(join(out, "results.md"), "utf8");
    expect(report).toMatch(/\| 200M, Gemma 2 report \| 23 \| 21 \| 0\.913 \|/);
    expect(report).toMatch(/\| 1B, Gemma 2 report \| 17 \| 15 \| 0\.882 \|/);
    // The headline is what distill store and train --teacher-store do by default: sampled, KD alone.
    expect(report).toMatch(/\| gemma2-1m \(1\.0M\), ours \| [\d.]+ \| [\d.]+ \(sampled-8, KD alone\) \| \*\*[\d.]+\*\* \|/);
    for (const plot of ["perplexity-ratio.svg", "eval-curves.svg"]) expect(readFileSync(join(out, plot), "utf8")).toMatch(/^<svg/);

    // Every stage has its output: nothing trains again, and the figures are the same.
    const storeIndex = join(out, "stores", "sample-8", "index.json");
    const written = statSync(storeIndex).mtimeMs;
    const second = cli("experiment", "distill", "--out", out, "--quick", "--threads", "1");
    expect(second).not.toMatch(/training gemma2/);
    expect(statSync(storeIndex).mtimeMs).toBe(written);
    const again = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as Results;
    expect(again.students).toEqual(results.students);
    expect(again.onPolicy).toEqual(results.onPolicy);
  });
});
