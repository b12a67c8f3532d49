// gemma-ts recipe: the Gemma 2 recipe end to end at laptop scale, each stage's output a folder of
// DIR, skipped when it is complete and resumed when it was cut off:
//   data         the corpus split (teacher / student / held-out text) and the task family's splits
//   teacher      a teacher pre-trained on the corpus, then taught the tasks (teacher-sft)
//   pretrained   the student, distilled from a store of the teacher's sampled tokens
//   sft          the student fine-tuned on the tasks, half the replies cloned from teacher-sft
//   on-policy    on-policy distillation from teacher-sft (the student samples, the teacher scores)
//   reward-model a reward model on pairs of the policy's replies labelled by the true reward
//   rlhf-<seed>  RLOO runs against the reward model with a KL penalty to an EMA anchor
//   averaged     WARP: the RL runs' task vectors SLERPed, then LITI from the on-policy model
//   evaluation   every policy's greedy true reward, reward-model score and held-out perplexity
// then DIR/report.json and DIR/report.html.
import { mkdir, readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { taskSplit, warpMerge } from "@gemma-ts/posttrain";
import { atomicWriteFile } from "@gemma-ts/core/node";
import { InvalidArgumentError } from "commander";
import { runOnPolicy } from "../distill/on-policy-run.js";
import { runStore } from "../distill/store-run.js";
import { writeExperimentData } from "../experiment/experiment-data.js";
import { trainedRun } from "../experiment/experiment-runs.js";
import { readModelFolder, writeModelFolder } from "../posttrain/model-folder.js";
import { runRewardTraining } from "../posttrain/reward-run.js";
import { runRlhf } from "../posttrain/rlhf-run.js";
import { sftRunSettings, writeSftData } from "../posttrain/sft-run.js";
import { writeTaskChats, writeTasks } from "../posttrain/task-files.js";
import { exists, TOKENIZER_FILE } from "../training/run-folder.js";
import type { RecipeConfig } from "./recipe-config.js";
import { evaluateStage, type StageEvaluation } from "./stage-evaluation.js";
import { collectCurves, type RecipeReport, writeRecipeReport } from "./recipe-report.js";

export const RECIPE_CONFIG_FILE = "recipe.json";

export interface RecipeOptions {
  out: string;
  config: RecipeConfig;
  log: (line: string) => void;
}

export async function runRecipe(options: RecipeOptions): Promise<RecipeReport> {
  const { out, config, log } = options;
  const threads = config.threads;
  await mkdir(out, { recursive: true });
  await checkConfig(out, config);
  const started = performance.now();
  const stageCount = 9 + config.rlhf.seeds.length;
  let stage = 0;
  const header = (title: string) => log(`\n[${++stage}/${stageCount}] ${title} (${((performance.now() - started) / 60_000).toFixed(1)} min in)`);
  const path = (...parts: string[]) => join(out, ...parts);

  header("data: the corpus split and the task family");
  const corpus = await writeExperimentData({
    dir: path("data"),
    data: config.corpus.files.map((file) => resolve(file)),
    eval: [],
    textUnit: "file",
    studentCharacters: config.corpus.studentCharacters,
    evalCharacters: config.corpus.evalCharacters,
    maxDocuments: config.corpus.documents ?? Number.POSITIVE_INFINITY,
  });
  const tasks = { train: path("data", "tasks-train.jsonl"), eval: path("data", "tasks-eval.jsonl"), prompts: path("data", "on-policy-prompts.jsonl") };
  if (!(await exists(tasks.prompts))) {
    const split = taskSplit({ seed: config.seed, train: config.tasks.train, eval: config.tasks.eval });
    await writeTasks(tasks.train, split.train);
    await writeTasks(tasks.eval, split.eval);
    await writeTaskChats(tasks.prompts, split.train);
  }
  log(`corpus: ${corpus.counts.teacher.documents} teacher documents, ${corpus.counts.eval.documents} held out; tasks: ${config.tasks.train} train, ${config.tasks.eval} eval prompts`);

  const teacher = config.teacher.pretraining;
  header(`teacher: ${teacher.preset} pre-trained, ${teacher.steps} steps of ${teacher.batchSize} x ${teacher.seqLen}`);
  await trainedRun({ dir: path("teacher"), settings: { preset: teacher.preset, data: [corpus.teacher], eval: [corpus.eval], ...pick(teacher), seed: config.seed }, evalEvery: teacher.steps, threads });

  header(`teacher-sft: the teacher taught the tasks, ${config.teacher.sft.steps} steps`);
  const sftData = (dir: string, teacherDir: string | null, share: number) =>
    writeSftData({ out: dir, trainTasks: tasks.train, evalTasks: tasks.eval, teacher: teacherDir, teacherShare: share, maxNewTokens: config.tasks.maxNewTokens, threads, log });
  const teacherSftDir = path("teacher-sft");
  await trainedRun({ dir: teacherSftDir, settings: sftRunSettings(path("teacher"), await sftData(teacherSftDir, null, 0), { ...config.teacher.sft, seed: config.seed }), evalEvery: config.teacher.sft.steps, threads });

  const student = config.student.pretraining;
  header(`pretrained: ${student.preset} distilled from the teacher's store of ${config.student.storeSamples} sampled tokens a position`);
  const store = path("store");
  await runStore({ teacher: path("teacher"), data: [corpus.student], textUnit: "file", out: store, selection: { mode: "sample", k: config.student.storeSamples, temperature: 1 }, seed: config.seed, ...(threads === null ? {} : { threads }) });
  await trainedRun({
    dir: path("pretrained"),
    settings: { preset: student.preset, data: [corpus.student], eval: [corpus.eval], tokenizer: path("teacher", TOKENIZER_FILE), teacherStore: store, ...pick(student), seed: config.seed },
    evalEvery: student.steps,
    threads,
  });

  header(`sft: SFT and behavioural cloning (${Math.round(config.sft.teacherShare * 100)}% of the replies from teacher-sft), ${config.sft.steps} steps`);
  const { teacherShare, ...sft } = config.sft;
  await trainedRun({ dir: path("sft"), settings: sftRunSettings(path("pretrained"), await sftData(path("sft"), teacherSftDir, teacherShare), { ...sft, seed: config.seed }), evalEvery: sft.steps, threads });

  header(`on-policy: distilled on-policy from teacher-sft, ${config.onPolicy.steps} steps`);
  const onPolicy = path("on-policy");
  if (!(await exists(path("on-policy", "model.safetensors")))) {
    await runOnPolicy(
      {
        out: onPolicy,
        resume: await exists(path("on-policy", "run.json")),
        given: { student: path("sft"), teacher: teacherSftDir, prompts: tasks.prompts, ...config.onPolicy, maxNewTokens: config.tasks.maxNewTokens, seed: config.seed },
        givenOptions: { checkpointEvery: Math.min(config.onPolicy.steps, 20), threads },
      },
      quietSteps(log),
    );
  }

  header(`reward-model: pairs of the on-policy model's replies to ${config.rewardModel.prompts} prompts, labelled by the true reward`);
  const { prompts: rmPrompts, ...rm } = config.rewardModel;
  const reward = await runRewardTraining({ policy: onPolicy, out: path("reward-model"), trainTasks: tasks.train, evalTasks: tasks.eval, prompts: rmPrompts, ...rm, seed: config.seed, maxNewTokens: config.tasks.maxNewTokens, threads, log });

  const rlhfDirs: string[] = [];
  for (const seed of config.rlhf.seeds) {
    const { seeds: _, ...rlhf } = config.rlhf;
    header(`rlhf-${seed}: RLOO against the reward model, seed ${seed}, ${rlhf.steps} steps`);
    const dir = path(`rlhf-${seed}`);
    rlhfDirs.push(dir);
    if (await exists(join(dir, "model.safetensors"))) continue;
    await runRlhf({
      out: dir,
      settings: { policy: onPolicy, rewardModel: path("reward-model"), trainTasks: tasks.train, evalTasks: tasks.eval, ...rlhf, maxNewTokens: config.tasks.maxNewTokens, seed },
      resume: true,
      checkpointEvery: Math.min(rlhf.steps, 20),
      threads,
      log,
    });
  }

  header(`averaged: WARP, the RL runs' task vectors SLERPed, then LITI at eta ${config.averaging.eta}`);
  const averaged = path("averaged");
  if (!(await exists(join(averaged, "model.safetensors")))) {
    const init = await readModelFolder(onPolicy);
    const runs = await Promise.all(rlhfDirs.map(async (dir) => (await readModelFolder(dir)).params));
    await writeModelFolder(averaged, { config: init.config, params: warpMerge(init.params, runs, config.averaging.eta), tokenizerJson: init.tokenizerJson });
  }

  header("evaluation: greedy replies to the held-out prompts, scored by the true reward and the reward model");
  const policies: [string, string][] = [
    ["teacher-sft", teacherSftDir],
    ["pretrained", path("pretrained")],
    ["sft", path("sft")],
    ["on-policy", onPolicy],
    ...rlhfDirs.map((dir): [string, string] => [relative(out, dir), dir]),
    ["averaged", averaged],
  ];
  const evaluations: StageEvaluation[] = [];
  for (const [name, dir] of policies) {
    const evaluation = await evaluateStage({ name, model: dir, out: path("evaluation"), evalTasks: tasks.eval, rewardModel: path("reward-model"), heldOutText: corpus.eval, maxNewTokens: config.tasks.maxNewTokens, threads });
    evaluations.push({ ...evaluation, model: relative(out, dir) });
    log(`${name.padEnd(12)} true reward ${evaluation.true_reward.toFixed(3)}   reward model ${evaluation.rm_score.toFixed(3)}   held-out perplexity ${evaluation.held_out_perplexity.toFixed(1)}`);
  }
  const report: RecipeReport = {
    config,
    minutes: (performance.now() - started) / 60_000,
    stages: evaluations,
    reward_model: { model: "reward-model", pairs: reward.pairs, ties: reward.ties, held_out_pairs: reward.heldOutPairs, held_out_accuracy: reward.heldOutAccuracy },
    curves: await collectCurves(out, rlhfDirs.map((dir) => relative(out, dir))),
  };
  await writeRecipeReport(out, report);
  return report;
}

function pick(shape: { steps: number; batchSize: number; seqLen: number; lr: number }) {
  return { steps: shape.steps, batchSize: shape.batchSize, seqLen: shape.seqLen, lr: shape.lr };
}

/** On-policy distillation logs every step; the recipe shows every tenth. */
function quietSteps(log: (line: string) => void): (line: string) => void {
  return (line) => {
    const match = /^step (\d+)\//.exec(line);
    if (!match || Number(match[1]) % 10 === 0) log(line);
  };
}

/** The first run saves its config; a later run must bring the same one. */
async function checkConfig(out: string, config: RecipeConfig): Promise<void> {
  const file = join(out, RECIPE_CONFIG_FILE);
  const text = `${JSON.stringify(config, null, 2)}\n`;
  if (!(await exists(file))) {
    await atomicWriteFile(file, text);
    return;
  }
  if ((await readFile(file, "utf8")) !== text) throw new InvalidArgumentError(`${out} was made with the config in ${file}, which differs from this one; choose another --out or give that config`);
}
