// A model judged on tasks by the true reward: a reply to each prompt (greedy unless a temperature
// is given), decoded without special tokens and scored against the answer. Replies are generated
// in batches with core's generateBatch.
import { type CausalLM, generateBatch } from "@gemma-ts/core";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import type { Task, TaskKind } from "../tasks/task-family.js";
import { replyStopTokens, taskPromptIds } from "../tasks/task-prompts.js";
import { trueReward } from "../tasks/true-reward.js";

export interface TaskEvaluation {
  /** Mean true reward over the tasks. */
  trueReward: number;
  byKind: Partial<Record<TaskKind, number>>;
  replies: { prompt: string; answer: string; reply: string; reward: number }[];
}

export interface TaskEvaluationOptions {
  maxNewTokens: number;
  batchSize?: number;
  /** Sampling temperature; default 0 (greedy). */
  temperature?: number;
  seed?: number;
}

export async function evaluateTasks(model: CausalLM, tokenizer: Tokenizer, tasks: readonly Task[], options: TaskEvaluationOptions): Promise<TaskEvaluation> {
  const stopTokens = replyStopTokens(tokenizer);
  const results = await generateBatch(
    model,
    tasks.map((task, i) => ({
      promptIds: taskPromptIds(tokenizer, task),
      maxNewTokens: options.maxNewTokens,
      sampling: { temperature: options.temperature ?? 0, seed: (options.seed ?? 0) + i },
      stopTokens,
    })),
    { maxBatchSize: options.batchSize ?? 16 },
  );
  const replies = tasks.map((task, i) => {
    const reply = tokenizer.decode(results[i]!.tokens, { skipSpecialTokens: true });
    return { prompt: task.prompt, answer: task.answer, reply, reward: trueReward(reply, task.answer) };
  });
  const byKind: Partial<Record<TaskKind, number>> = {};
  for (const kind of new Set(tasks.map((task) => task.kind))) {
    const scored = replies.filter((_, i) => tasks[i]!.kind === kind);
    byKind[kind] = scored.reduce((sum, reply) => sum + reply.reward, 0) / scored.length;
  }
  return { trueReward: replies.reduce((sum, reply) => sum + reply.reward, 0) / Math.max(1, replies.length), byKind, replies };
}
