// Judging a policy as RLHF's evaluations and the recipe's do: a reward model opened from its
// folder, and a policy's greedy replies scored by both the true reward and that reward model.
import { type Backend, Gemma2Model, type Gemma2Params } from "@gemma-ts/core";
import { evaluateTasks, RewardModel, type Task, type TaskEvaluation, taskPromptIds } from "@gemma-ts/posttrain";
import { InvalidArgumentError } from "commander";
import { type ModelFolder, readModelFolder } from "./model-folder.js";

/** A reward model's folder, ready to score; a folder without a value head is refused in one line. */
export async function openRewardModel(dir: string, backend: Backend): Promise<{ folder: ModelFolder; model: RewardModel }> {
  const folder = await readModelFolder(dir);
  if (!folder.valueHead) throw new InvalidArgumentError(`${dir} is not a reward model (it has no score.weight); train one with gemma-ts train-reward`);
  return { folder, model: new RewardModel({ config: folder.config, params: folder.params, valueHead: folder.valueHead, backend, trainable: false }) };
}

/**
 * The policy's greedy replies to the tasks (evaluateTasks: true reward, overall and per kind) and
 * the reward model's score of each (prompt + reply re-encoded, as a served reply would be scored).
 */
export async function judgeGreedy(policy: ModelFolder, params: Gemma2Params, rewardModel: RewardModel, tasks: readonly Task[], maxNewTokens: number, backend: Backend): Promise<{ evaluation: TaskEvaluation; rmScore: number }> {
  const model = new Gemma2Model(policy.config, params, backend, { weights: "inputs" });
  try {
    const evaluation = await evaluateTasks(model, policy.tokenizer, tasks, { maxNewTokens, batchSize: 64 });
    const rows = evaluation.replies.map((reply, i) => [...taskPromptIds(policy.tokenizer, tasks[i]!), ...policy.tokenizer.encode(reply.reply, { addSpecialTokens: false }).ids]);
    const scores = await rewardModel.score(rows, 64);
    return { evaluation, rmScore: scores.reduce((sum, score) => sum + score, 0) / Math.max(1, scores.length) };
  } finally {
    await model.dispose();
  }
}
