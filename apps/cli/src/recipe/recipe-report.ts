// The recipe's report: DIR/report.json (the config, every stage's evaluation, the reward model's
// accuracy and the curves) and DIR/report.html, a page of tables and Vega-Lite charts rendered to
// inline SVG (no script, nothing fetched: it opens offline and anywhere): the loss curves of every
// stage, the true reward and reward-model score per stage, and during RL the reward against KL.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile } from "@gemma-ts/core/node";
import { vegaLiteSvg } from "../vega-svg.js";
import { exists } from "../training/run-folder.js";
import type { RecipeConfig } from "./recipe-config.js";
import type { StageEvaluation } from "./stage-evaluation.js";

export interface RecipeCurves {
  /** Training loss of every stage (each its own objective: cross-entropy, KD, JSD, Bradley-Terry, the policy-gradient loss). */
  loss: { stage: string; step: number; loss: number }[];
  /** Each RL step's samples: mean reward-model score, mean true reward, KL to the reference. */
  rl: { run: string; step: number; rm_score: number; true_reward: number; kl: number }[];
  /** RL's periodic greedy evaluations. */
  rlEval: { run: string; step: number; true_reward: number; rm_score: number }[];
}

export interface RecipeReport {
  config: RecipeConfig;
  minutes: number;
  stages: StageEvaluation[];
  reward_model: { model: string; pairs: number; ties: number; held_out_pairs: number; held_out_accuracy: number };
  curves: RecipeCurves;
}

/** The stages whose metrics.jsonl holds a loss per step, in the recipe's order. */
const LOSS_STAGES = ["teacher", "teacher-sft", "pretrained", "sft", "on-policy", "reward-model"];

export async function collectCurves(out: string, rlhfRuns: readonly string[]): Promise<RecipeCurves> {
  const curves: RecipeCurves = { loss: [], rl: [], rlEval: [] };
  for (const stage of [...LOSS_STAGES, ...rlhfRuns]) {
    const file = join(out, stage, "metrics.jsonl");
    if (!(await exists(file))) continue;
    const records = (await readFile(file, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, number>);
    for (const record of records) {
      if (typeof record.loss === "number" && Number.isFinite(record.loss)) curves.loss.push({ stage, step: record.step!, loss: record.loss });
      if (rlhfRuns.includes(stage) && typeof record.kl === "number") curves.rl.push({ run: stage, step: record.step!, rm_score: record.rm_score!, true_reward: record.true_reward!, kl: record.kl });
      if (typeof record.eval_true_reward === "number") curves.rlEval.push({ run: stage, step: record.step!, true_reward: record.eval_true_reward, rm_score: record.eval_rm_score! });
    }
  }
  return curves;
}

export async function writeRecipeReport(out: string, report: RecipeReport): Promise<void> {
  await atomicWriteFile(join(out, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  await atomicWriteFile(join(out, "report.html"), await reportHtml(report));
}

/** The table of stages printed at the end, the report's place, and the command that serves the final model. */
export function recipeSummary(report: RecipeReport, out: string): string {
  const width = Math.max(5, ...report.stages.map((stage) => stage.name.length));
  const lines = [`${"stage".padEnd(width)}  true reward  reward model  held-out ppl`];
  for (const stage of report.stages) {
    lines.push(`${stage.name.padEnd(width)}  ${stage.true_reward.toFixed(3).padStart(11)}  ${stage.rm_score.toFixed(3).padStart(12)}  ${stage.held_out_perplexity.toFixed(1).padStart(12)}`);
  }
  const { held_out_accuracy: accuracy, held_out_pairs: pairs } = report.reward_model;
  return [
    "",
    ...lines,
    "",
    `reward model: ${Number.isFinite(accuracy) ? `${(accuracy * 100).toFixed(1)}%` : "no"} accuracy on ${pairs} held-out pairs`,
    `report: ${join(out, "report.html")}`,
    `serve the final model: pnpm gemma-ts serve --model ${join(out, "averaged")}`,
    "",
  ].join("\n");
}

const WIDTH = 260;

async function reportHtml(report: RecipeReport): Promise<string> {
  const perStage = report.stages.flatMap((stage) => [
    { stage: stage.name, measure: "true reward", value: stage.true_reward },
    { stage: stage.name, measure: "reward model score", value: stage.rm_score },
  ]);
  const stageOrder = report.stages.map((stage) => stage.name);
  const charts = {
    rewards: await vegaLiteSvg({
      data: { values: perStage },
      facet: { column: { field: "measure", title: null } },
      resolve: { scale: { y: "independent" } },
      spec: {
        width: WIDTH,
        height: 200,
        mark: "bar",
        encoding: { x: { field: "stage", sort: stageOrder, title: null }, y: { field: "value", type: "quantitative", title: null }, color: { field: "stage", sort: stageOrder, legend: null } },
      },
    }),
    losses: await vegaLiteSvg({
      data: { values: report.curves.loss },
      facet: { field: "stage", sort: [...LOSS_STAGES, ...new Set(report.curves.rl.map((point) => point.run))], title: null },
      columns: 4,
      resolve: { scale: { x: "independent", y: "independent" } },
      spec: { width: 200, height: 130, mark: { type: "line", strokeWidth: 1 }, encoding: { x: { field: "step", type: "quantitative" }, y: { field: "loss", type: "quantitative", scale: { zero: false } } } },
    }),
    rl: await vegaLiteSvg({
      hconcat: [
        {
          title: "RL samples: reward against KL",
          width: WIDTH,
          height: 220,
          data: { values: report.curves.rl.flatMap((point) => [{ ...point, measure: "reward model", reward: point.rm_score }, { ...point, measure: "true reward", reward: point.true_reward }]) },
          mark: { type: "point", filled: true, size: 18 },
          encoding: { x: { field: "kl", type: "quantitative", title: "KL to the reference (per token)" }, y: { field: "reward", type: "quantitative" }, color: { field: "run" }, shape: { field: "measure" } },
        },
        {
          title: "RL: greedy evaluation",
          width: WIDTH,
          height: 220,
          data: { values: report.curves.rlEval.flatMap((point) => [{ ...point, measure: "reward model", value: point.rm_score }, { ...point, measure: "true reward", value: point.true_reward }]) },
          mark: { type: "line", point: true },
          encoding: { x: { field: "step", type: "quantitative" }, y: { field: "value", type: "quantitative" }, color: { field: "run" }, strokeDash: { field: "measure" } },
        },
      ],
    }),
  };
  const rows = report.stages
    .map((stage) => `<tr><td>${escapeHtml(stage.name)}</td><td><code>${escapeHtml(stage.model)}</code></td><td>${stage.true_reward.toFixed(3)}</td><td>${stage.rm_score.toFixed(3)}</td><td>${stage.held_out_perplexity.toFixed(1)}</td><td>${Object.entries(stage.true_reward_by_kind).map(([kind, value]) => `${kind} ${value!.toFixed(2)}`).join(", ")}</td></tr>`)
    .join("\n");
  const rm = report.reward_model;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gemma-ts recipe report</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
th { background: #f4f4f4; }
figure { margin: 1.5em 0; }
</style>
</head>
<body>
<h1>gemma-ts recipe report</h1>
<p>${report.stages.length} models, ${report.minutes.toFixed(1)} minutes. True reward: greedy replies to ${report.config.tasks.eval} held-out task prompts, scored by the program (1 exact, 0.5 the answer among other words, else 0).</p>
<h2>Stages</h2>
<table>
<tr><th>stage</th><th>model</th><th>true reward</th><th>reward model score</th><th>held-out perplexity</th><th>true reward by kind</th></tr>
${rows}
</table>
<p>Reward model: ${Number.isFinite(rm.held_out_accuracy) ? `${(rm.held_out_accuracy * 100).toFixed(1)}%` : "no"} accuracy on ${rm.held_out_pairs} held-out pairs; trained on ${rm.pairs} pairs (${rm.ties} ties dropped).</p>
<h2>True reward and reward-model score per stage</h2>
<figure id="rewards">${charts.rewards}</figure>
<h2>Reinforcement learning</h2>
<figure id="rl">${charts.rl}</figure>
<h2>Training loss of every stage</h2>
<figure id="losses">${charts.losses}</figure>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
