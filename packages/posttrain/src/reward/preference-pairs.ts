// Preference data without raters: two replies sampled from a policy for each prompt, labelled by
// the true reward (the higher one is chosen; ties dropped), with an optional label-noise rate that
// flips a pair's label, as human preferences disagree with any single ground truth.
import { type CausalLM, generateBatch, Random } from "@gemma-ts/core";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import type { Task } from "../tasks/task-family.js";
import { replyStopTokens, taskPromptIds } from "../tasks/task-prompts.js";
import { trueReward } from "../tasks/true-reward.js";
import type { PreferencePair } from "./reward-model.js";

export interface LabelledPair extends PreferencePair {
  prompt: string;
  /** The replies' texts and true rewards, chosen first. */
  replies: [{ text: string; reward: number }, { text: string; reward: number }];
  /** Whether label noise swapped chosen and rejected. */
  flipped: boolean;
}

export interface PairSamplingOptions {
  maxNewTokens: number;
  temperature: number;
  seed: number;
  /** The probability that a pair's label is flipped. */
  labelNoise?: number;
  batchSize?: number;
}

export async function samplePreferencePairs(policy: CausalLM, tokenizer: Tokenizer, tasks: readonly Task[], options: PairSamplingOptions): Promise<{ pairs: LabelledPair[]; ties: number }> {
  const stopTokens = replyStopTokens(tokenizer);
  const prompts = tasks.map((task) => taskPromptIds(tokenizer, task));
  const results = await generateBatch(
    policy,
    prompts.flatMap((promptIds, i) =>
      [0, 1].map((j) => ({ promptIds, maxNewTokens: options.maxNewTokens, sampling: { temperature: options.temperature, seed: options.seed * 1_000_003 + 2 * i + j }, stopTokens })),
    ),
    { maxBatchSize: options.batchSize ?? 16 },
  );
  const random = new Random(options.seed);
  const pairs: LabelledPair[] = [];
  let ties = 0;
  tasks.forEach((task, i) => {
    const [a, b] = [results[2 * i]!, results[2 * i + 1]!].map((result) => ({ tokens: result.tokens, text: tokenizer.decode(result.tokens, { skipSpecialTokens: true }) }));
    const [ra, rb] = [trueReward(a!.text, task.answer), trueReward(b!.text, task.answer)];
    const flip = random.uniform() < (options.labelNoise ?? 0);
    if (ra === rb) {
      ties++;
      return;
    }
    let [chosen, rejected] = ra > rb ? [{ ...a!, reward: ra }, { ...b!, reward: rb }] : [{ ...b!, reward: rb }, { ...a!, reward: ra }];
    if (flip) [chosen, rejected] = [rejected, chosen];
    pairs.push({
      prompt: task.prompt,
      chosen: [...prompts[i]!, ...chosen.tokens],
      rejected: [...prompts[i]!, ...rejected.tokens],
      replies: [
        { text: chosen.text, reward: chosen.reward },
        { text: rejected.text, reward: rejected.reward },
      ],
      flipped: flip,
    });
  });
  return { pairs, ties };
}
