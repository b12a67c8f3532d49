// A stage's model judged as the report judges it: greedy replies to the held-out task prompts,
// their mean true reward (overall and per kind) and mean reward-model score, and the model's
// perplexity on the held-out corpus text (how much of its language modelling post-training
// kept). Cached in DIR/evaluation/<stage>.json, so a rerun reads it back.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile, OnnxBackend, readJsonFile } from "@gemma-ts/core/node";
import type { TaskKind } from "@gemma-ts/posttrain";
import { judgeGreedy, openRewardModel } from "../posttrain/judge.js";
import { readModelFolder } from "../posttrain/model-folder.js";
import { readTasks } from "../posttrain/task-files.js";
import { evaluateFiles } from "../training/evaluate-files.js";
import { exists } from "../training/run-folder.js";

export interface StageEvaluation {
  name: string;
  /** The model's folder, relative to the recipe's. */
  model: string;
  true_reward: number;
  true_reward_by_kind: Partial<Record<TaskKind, number>>;
  rm_score: number;
  held_out_perplexity: number;
  /** A few replies, to read. */
  examples: { prompt: string; answer: string; reply: string; reward: number }[];
}

export interface StageEvaluationOptions {
  name: string;
  model: string;
  /** Where the cached evaluations go. */
  out: string;
  evalTasks: string;
  rewardModel: string;
  heldOutText: string;
  maxNewTokens: number;
  threads: number | null;
}

export async function evaluateStage(options: StageEvaluationOptions): Promise<StageEvaluation> {
  const file = join(options.out, `${options.name}.json`);
  if (await exists(file)) return (await readJsonFile(file)) as StageEvaluation;
  const backend = new OnnxBackend(options.threads === null ? {} : { intraOpThreads: options.threads });
  const policy = await readModelFolder(options.model);
  const { model: rewardModel } = await openRewardModel(options.rewardModel, backend);
  const tasks = await readTasks(options.evalTasks);
  try {
    const { evaluation, rmScore } = await judgeGreedy(policy, policy.params, rewardModel, tasks, options.maxNewTokens, backend);
    const perplexity = await evaluateFiles({ model: options.model, data: [options.heldOutText], tokenizer: undefined, adapter: undefined, seqLen: undefined, batchSize: 8, textUnit: "file", threads: options.threads ?? undefined });
    const result: StageEvaluation = {
      name: options.name,
      model: options.model,
      true_reward: evaluation.trueReward,
      true_reward_by_kind: evaluation.byKind,
      rm_score: rmScore,
      held_out_perplexity: perplexity.perplexity,
      examples: evaluation.replies.slice(0, 10),
    };
    await mkdir(options.out, { recursive: true });
    await atomicWriteFile(file, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await rewardModel.dispose();
  }
}
