// gemma-ts experiment distill: the Gemma 2 report's distillation ablation (its Table 7: students
// trained from scratch against students distilled from a larger teacher, at equal tokens), on a
// corpus small enough for a laptop. In order: the data sets; a teacher trained from scratch; its
// teacher stores over the students' data (top-k and sampled); then per seed, each student size
// from scratch and distilled, the small one in every variant (k, KD weight, sampled, the full
// distribution online, scratch at equal compute); on-policy against off-policy distillation; and
// the report (results.json, results.md, plots). Every stage keeps its output in DIR, and a rerun
// skips what is done.
import { join, relative } from "node:path";
import { parameterCount, presetConfig } from "@gemma-ts/core";
import type { TextUnit } from "@gemma-ts/data";
import { runStore } from "../distill/store-run.js";
import { TOKENIZER_FILE } from "../training/run-folder.js";
import type { RunSettings } from "../training/run-settings.js";
import { writeExperimentData } from "./experiment-data.js";
import { type ExperimentPlan, headlineVariant, studentVariants, type Variant, variantName, variantSlug } from "./experiment-plan.js";
import { type ExperimentResults, type StudentResult, writeExperimentReport } from "./experiment-report.js";
import { trainedRun } from "./experiment-runs.js";
import { compareOnPolicy, type OnPolicyComparison } from "./on-policy-comparison.js";

export interface DistillExperimentOptions {
  out: string;
  plan: ExperimentPlan;
  data: readonly string[];
  eval: readonly string[];
  textUnit: TextUnit;
  threads: number | null;
  log: (line: string) => void;
}

export async function runDistillExperiment(options: DistillExperimentOptions): Promise<ExperimentResults> {
  const { plan, out, log, threads } = options;
  const started = performance.now();
  const variantsPerSeed = plan.students.reduce((sum, _, i) => sum + studentVariants(plan, i).length, 0);
  const stageCount = 3 + plan.seeds.length * (variantsPerSeed + 1) + 1;
  let stage = 0;
  const header = (title: string) => log(`\n[${++stage}/${stageCount}] ${title} (${((performance.now() - started) / 60_000).toFixed(1)} min in)`);

  header("data");
  const data = await writeExperimentData({
    dir: join(out, "data"),
    data: options.data,
    eval: options.eval,
    textUnit: options.textUnit,
    studentCharacters: plan.studentCharacters,
    evalCharacters: plan.evalCharacters,
    maxDocuments: plan.maxDocuments,
  });
  for (const [set, count] of Object.entries(data.counts)) log(`${set}: ${count.documents} documents, ${count.characters.toLocaleString("en-US")} characters`);

  header(`teacher ${plan.teacher.preset}, ${plan.teacher.steps} steps of ${plan.teacher.batchSize} x ${plan.teacher.seqLen}`);
  const teacherDir = join(out, "teacher");
  const teacher = await trainedRun({
    dir: teacherDir,
    settings: { preset: plan.teacher.preset, data: [data.teacher], eval: [data.eval], steps: plan.teacher.steps, batchSize: plan.teacher.batchSize, seqLen: plan.teacher.seqLen, lr: plan.teacher.lr, seed: 0 },
    evalEvery: plan.teacher.steps,
    threads,
  });
  log(`teacher: held-out perplexity ${teacher.perplexity.toFixed(2)}`);
  const tokenizer = join(teacherDir, TOKENIZER_FILE);

  header(`teacher stores over the students' data: top-${plan.storeK} and ${plan.storeK} samples per token`);
  const stores = { "top-k": join(out, "stores", `top-${plan.storeK}`), sample: join(out, "stores", `sample-${plan.storeK}`) };
  const storeResults = [];
  for (const [mode, dir] of Object.entries(stores) as ["top-k" | "sample", string][]) {
    const { index, scored } = await runStore({
      teacher: teacherDir,
      data: [data.student],
      textUnit: "file",
      out: dir,
      selection: { mode, k: plan.storeK, temperature: 1 },
      seed: 0,
      windowLength: plan.storeWindow,
      ...(threads === null ? {} : { threads }),
    });
    storeResults.push({ mode, k: plan.storeK, dir: relative(out, dir), tokens: index.positions, bytesPerToken: index.bytesPerToken, tokensPerSecond: scored.tokens > 0 ? scored.tokens / scored.seconds : null });
  }
  const storeTokens = storeResults[0]!.tokens;
  const teacherParams = parameterCount(presetConfig(plan.teacher.preset));

  const students: StudentResult[] = [];
  const onPolicy: OnPolicyComparison[] = [];
  for (const seed of plan.seeds) {
    for (const [index, preset] of plan.students.entries()) {
      const studentParams = parameterCount(presetConfig(preset));
      const tokens = plan.student.steps * plan.student.batchSize * plan.student.seqLen;
      // Compute of a distilled student: its training (6 N D) plus the teacher's forward passes
      // (2 N per token) over the store's tokens, or over every trained token when run online.
      const studentFlops = (steps: number) => 6 * studentParams * steps * plan.student.batchSize * plan.student.seqLen;
      const teacherFlops = (variant: Variant) => (variant.kind === "scratch" ? 0 : 2 * teacherParams * (variant.kind === "full" ? tokens : storeTokens));
      const equalComputeSteps = Math.round((plan.student.steps * (studentFlops(plan.student.steps) + 2 * teacherParams * storeTokens)) / studentFlops(plan.student.steps));
      for (const variant of studentVariants(plan, index)) {
        const steps = variant.kind === "scratch" && variant.equalCompute ? equalComputeSteps : plan.student.steps;
        header(`${preset}, ${variantName(variant)}, seed ${seed}: ${steps} steps`);
        const run = await trainedRun({
          dir: join(out, "students", `seed-${seed}`, preset, variantSlug(variant)),
          settings: { ...studentSettings(plan, preset, seed, steps, [data.student], [data.eval], tokenizer), ...teacherSettings(variant, stores, teacherDir) },
          evalEvery: plan.evalEvery,
          threads,
        });
        log(`${preset}, ${variantName(variant)}, seed ${seed}: held-out perplexity ${run.perplexity.toFixed(2)}`);
        students.push({ student: preset, params: studentParams, variant: variantName(variant), kind: variant.kind, seed, ...run, dir: relative(out, run.dir), flops: studentFlops(steps) + teacherFlops(variant) });
      }
    }
    header(`on-policy against off-policy distillation, ${plan.students[0]}, seed ${seed}`);
    const start = students.find((result) => result.seed === seed && result.student === plan.students[0] && result.variant === variantName(headlineVariant(plan)))!;
    const comparison = await compareOnPolicy({
      plan,
      seed,
      start: { dir: join(out, start.dir), perplexity: start.perplexity },
      teacher: teacherDir,
      data,
      out: join(out, "on-policy", `seed-${seed}`, `from-${variantSlug(headlineVariant(plan))}`),
      threads,
      log,
    });
    onPolicy.push({ ...comparison, start: { ...comparison.start, dir: relative(out, comparison.start.dir) }, variants: comparison.variants.map((variant) => ({ ...variant, dir: relative(out, variant.dir) })) });
  }

  header("report");
  const results: ExperimentResults = {
    plan,
    data: data.counts,
    teacher: { preset: plan.teacher.preset, params: teacherParams, steps: teacher.steps, tokens: teacher.tokens, perplexity: teacher.perplexity, dir: relative(out, teacher.dir) },
    stores: storeResults,
    students,
    onPolicy,
    minutes: (performance.now() - started) / 60_000,
  };
  const written = await writeExperimentReport(out, results);
  for (const line of written.summary) log(line);
  log(`\nresults: ${join(out, "results.json")}, ${join(out, "results.md")}, plots ${written.plots.map((plot) => join(out, plot)).join(", ")}`);
  return results;
}

function studentSettings(plan: ExperimentPlan, preset: string, seed: number, steps: number, data: string[], evalData: string[], tokenizer: string): Partial<RunSettings> {
  const { batchSize, seqLen, lr } = plan.student;
  return { preset, data, eval: evalData, tokenizer, steps, batchSize, seqLen, lr, seed };
}

function teacherSettings(variant: Variant, stores: { "top-k": string; sample: string }, teacherDir: string): Partial<RunSettings> {
  switch (variant.kind) {
    case "scratch":
      return {};
    case "top-k":
      return { teacherStore: stores["top-k"], teacherTopK: variant.k, kdWeight: variant.kdWeight };
    case "sampled":
      return { teacherStore: stores.sample, kdWeight: variant.kdWeight };
    case "full":
      return { teacher: teacherDir, kdWeight: variant.kdWeight };
  }
}
