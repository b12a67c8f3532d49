// The experiment's report: results.json (every figure, for anyone's own analysis), results.md
// (the tables, with the Gemma 2 report's Table 7 beside ours) and two plots: each variant's
// perplexity relative to scratch, and the small student's held-out loss curves.
import { join } from "node:path";
import { atomicWriteFile } from "@gemma-ts/core/node";
import { vegaLiteSvg } from "../vega-svg.js";
import { type ExperimentPlan, headlineVariant, type Variant, variantName } from "./experiment-plan.js";
import type { TrainedRun } from "./experiment-runs.js";
import type { OnPolicyComparison } from "./on-policy-comparison.js";

export interface StudentResult extends Omit<TrainedRun, "dir"> {
  student: string;
  params: number;
  variant: string;
  kind: Variant["kind"];
  seed: number;
  /** Relative to the experiment's folder. */
  dir: string;
  /** The student's training plus the teacher's forward passes it needed (2 N per token). */
  flops: number;
}

export interface ExperimentResults {
  plan: ExperimentPlan;
  data: Record<string, { documents: number; characters: number }>;
  teacher: { preset: string; params: number; steps: number; tokens: number; perplexity: number; dir: string };
  stores: { mode: string; k: number; dir: string; tokens: number; bytesPerToken: number; tokensPerSecond: number | null }[];
  students: StudentResult[];
  onPolicy: OnPolicyComparison[];
  minutes: number;
}

/**
 * The Gemma 2 report's Table 7: validation perplexity of students trained from scratch and
 * distilled from a 7B teacher, at 500B tokens (Gemma Team, "Gemma 2: Improving Open Language
 * Models at a Practical Size", 2024, arXiv:2408.00118, section 6).
 */
export const GEMMA2_TABLE7 = [
  { student: "200M", scratch: 23, distilled: 21 },
  { student: "400M", scratch: 19, distilled: 17 },
  { student: "1B", scratch: 17, distilled: 15 },
];

export const RESULTS_FILE = "results.json";
export const REPORT_FILE = "results.md";
const RATIO_PLOT = "perplexity-ratio.svg";
const CURVES_PLOT = "eval-curves.svg";

interface VariantSummary {
  student: string;
  variant: string;
  perplexities: number[];
  /** Per seed, this variant's perplexity over the same seed's scratch student's. */
  ratios: number[];
  meanRatio: number;
  teraflops: number;
  msPerStep: number;
}

export async function writeExperimentReport(out: string, results: ExperimentResults): Promise<{ summary: string[]; plots: string[] }> {
  const summaries = summarize(results);
  await atomicWriteFile(join(out, RESULTS_FILE), `${JSON.stringify({ ...results, summary: summaries }, null, 2)}\n`);
  await atomicWriteFile(join(out, REPORT_FILE), markdown(results, summaries));
  await atomicWriteFile(join(out, RATIO_PLOT), await ratioPlot(results, summaries));
  await atomicWriteFile(join(out, CURVES_PLOT), await curvesPlot(results));
  const headline = headlineSummaries(results, summaries);
  return {
    summary: [
      "",
      ...headline.map(
        ({ distilled, scratch }) =>
          `${distilled.student}: distilled (${distilled.variant}) perplexity ${mean(distilled.perplexities).toFixed(2)} against ${mean(scratch.perplexities).toFixed(2)} from scratch: ${distilled.meanRatio.toFixed(3)}x (per seed ${distilled.ratios.map((ratio) => ratio.toFixed(3)).join(", ")})`,
      ),
    ],
    plots: [RATIO_PLOT, CURVES_PLOT],
  };
}

function summarize(results: ExperimentResults): VariantSummary[] {
  const summaries: VariantSummary[] = [];
  const keys = [...new Set(results.students.map((result) => `${result.student}\u0000${result.variant}`))];
  for (const key of keys) {
    const [student, variant] = key.split("\u0000") as [string, string];
    const runs = results.students.filter((result) => result.student === student && result.variant === variant);
    const ratios = runs.map((run) => run.perplexity / results.students.find((other) => other.student === student && other.seed === run.seed && other.variant === "scratch")!.perplexity);
    summaries.push({
      student,
      variant,
      perplexities: runs.map((run) => run.perplexity),
      ratios,
      meanRatio: mean(ratios),
      teraflops: mean(runs.map((run) => run.flops)) / 1e12,
      msPerStep: mean(runs.map((run) => run.secondsPerStep)) * 1000,
    });
  }
  return summaries;
}

/** Per student: the headline distilled variant, scratch, and scratch at equal compute. */
function headlineSummaries(results: ExperimentResults, summaries: readonly VariantSummary[]) {
  const headline = variantName(headlineVariant(results.plan));
  return results.plan.students.map((student) => {
    const find = (variant: string) => summaries.find((summary) => summary.student === student && summary.variant === variant)!;
    return { distilled: find(headline), scratch: find("scratch"), equalCompute: find("scratch, equal compute") };
  });
}

function markdown(results: ExperimentResults, summaries: readonly VariantSummary[]): string {
  const { plan } = results;
  const perSeed = (values: readonly number[]) => values.map((value) => value.toFixed(1)).join(" / ");
  const lines = [
    `# Distillation experiment (${plan.name})`,
    "",
    `Teacher: ${results.teacher.preset} (${millions(results.teacher.params)} parameters), ${results.teacher.steps} steps, ${results.teacher.tokens.toLocaleString("en-US")} tokens, held-out perplexity ${results.teacher.perplexity.toFixed(1)}.`,
    `Students: ${plan.students.join(", ")}, ${plan.student.steps} steps of ${plan.student.batchSize} x ${plan.student.seqLen} tokens on ${results.data.student!.characters.toLocaleString("en-US")} characters of the teacher's training text (${results.stores[0]!.tokens.toLocaleString("en-US")} tokens), seeds ${plan.seeds.join(", ")}; held-out perplexity on ${results.data.eval!.characters.toLocaleString("en-US")} characters no model trained on. Distilled students mix KD and next-token cross-entropy with KD weight ${plan.mixedKdWeight} unless marked "KD alone" (KD weight 1). The command ran ${results.minutes.toFixed(0)} minutes (a rerun skips finished stages).`,
    "",
    "## Scratch against distilled (the report's Table 7 beside ours)",
    "",
    "| student | from scratch | distilled | distilled / scratch | scratch at equal compute | its ratio |",
    "|---|---|---|---|---|---|",
    ...headlineSummaries(results, summaries).map(
      ({ distilled, scratch, equalCompute }) =>
        `| ${distilled.student} (${millions(results.students.find((result) => result.student === distilled.student)!.params)}), ours | ${perSeed(scratch.perplexities)} | ${perSeed(distilled.perplexities)} (${distilled.variant}) | **${distilled.meanRatio.toFixed(3)}** | ${perSeed(equalCompute.perplexities)} | ${equalCompute.meanRatio.toFixed(3)} |`,
    ),
    ...GEMMA2_TABLE7.map((row) => `| ${row.student}, Gemma 2 report | ${row.scratch} | ${row.distilled} | ${(row.distilled / row.scratch).toFixed(3)} | | |`),
    "",
    "Perplexities per seed; ratios are the mean over seeds of each seed's ratio. Equal compute: the scratch student trains for as many more steps as the teacher's forward passes over the store cost (2 N per token, against 6 N per token of training).",
    "",
    `## How the student learns from the teacher (${plan.students[0]})`,
    "",
    "| variant | held-out perplexity (per seed) | / scratch | compute (TFLOP) | ms per step |",
    "|---|---|---|---|---|",
    ...summaries
      .filter((summary) => summary.student === plan.students[0])
      .map((summary) => `| ${summary.variant} | ${perSeed(summary.perplexities)} | ${summary.meanRatio.toFixed(3)} | ${summary.teraflops.toFixed(2)} | ${summary.msPerStep.toFixed(0)} |`),
    "",
    "top-k: the teacher's k most likely next tokens (read from one top-" +
      `${plan.storeK} store); sampled: ${plan.storeK} draws from the teacher's distribution, weighted count / k; full: the teacher's whole distribution, computed online each step.`,
    "",
    `## On-policy against off-policy (${plan.students[0]}, from the ${variantName(headlineVariant(plan))} student, ${plan.onPolicy.steps} GKD steps of ${plan.onPolicy.batchSize}, beta ${plan.onPolicy.beta})`,
    "",
    "| seed | start: perplexity / JSD | off-policy (lambda 0) | on-policy (lambda 1) |",
    "|---|---|---|---|",
    ...results.onPolicy.map(
      (comparison) =>
        `| ${comparison.seed} | ${comparison.start.perplexity.toFixed(2)} / ${comparison.start.divergence.toFixed(4)} | ${comparison.variants.map((variant) => `${variant.perplexity.toFixed(2)} / ${variant.divergence.toFixed(4)}`).join(" | ")} |`,
    ),
    "",
    "JSD: the generalised Jensen-Shannon divergence from the teacher over the student's own samples of held-out prompts (lower: the teacher agrees more with what the student writes).",
    "",
    "## Teacher stores",
    "",
    "| store | tokens | bytes per token | written at (tokens/s) |",
    "|---|---|---|---|",
    ...results.stores.map((store) => `| ${store.mode === "top-k" ? `top-${store.k}` : `${store.k} samples`} | ${store.tokens.toLocaleString("en-US")} | ${store.bytesPerToken} | ${store.tokensPerSecond === null ? "(written before)" : store.tokensPerSecond.toFixed(0)} |`),
    "",
    `![perplexity relative to scratch](${RATIO_PLOT})`,
    `![held-out loss curves](${CURVES_PLOT})`,
    "",
  ];
  return lines.join("\n");
}

async function ratioPlot(results: ExperimentResults, summaries: readonly VariantSummary[]): Promise<string> {
  const values = summaries.filter((summary) => summary.variant !== "scratch").map((summary) => ({ student: summary.student, variant: summary.variant, ratio: summary.meanRatio }));
  return vegaLiteSvg({
    width: 560,
    height: 300,
    title: `held-out perplexity relative to scratch (mean over ${results.plan.seeds.length} seeds; the report's 0.88-0.91 shaded)`,
    layer: [
      { data: { values: [{ from: 0.88, to: 0.91 }] }, mark: { type: "rect", opacity: 0.2, color: "green" }, encoding: { y: { field: "from", type: "quantitative" }, y2: { field: "to" } } },
      {
        data: { values },
        mark: "bar",
        encoding: {
          x: { field: "variant", type: "nominal", sort: null, title: null, axis: { labelAngle: -30 } },
          xOffset: { field: "student" },
          y: { field: "ratio", type: "quantitative", title: "perplexity / scratch", scale: { zero: false } },
          color: { field: "student", type: "nominal" },
        },
      },
      { data: { values: [{ one: 1 }] }, mark: { type: "rule", strokeDash: [4, 4] }, encoding: { y: { field: "one", type: "quantitative" } } },
    ],
  });
}

async function curvesPlot(results: ExperimentResults): Promise<string> {
  const { plan } = results;
  const seed = plan.seeds[0];
  const values = results.students
    .filter((result) => result.student === plan.students[0] && result.seed === seed && result.variant !== "scratch, equal compute")
    .flatMap((result) => result.evalCurve.map((point) => ({ variant: result.variant, step: point.step, loss: point.loss })));
  return vegaLiteSvg({
    width: 560,
    height: 300,
    title: `${plan.students[0]}, seed ${seed}: held-out loss`,
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "step", type: "quantitative" },
      y: { field: "loss", type: "quantitative", title: "held-out loss (nats per token)", scale: { zero: false } },
      color: { field: "variant", type: "nominal", sort: null },
    },
  });
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function millions(count: number): string {
  return `${(count / 1e6).toFixed(1)}M`;
}
