// gemma-ts reward: scores a reply with a reward model and prints {"score"} as JSON; and
// gemma-ts train-reward: trains one on pairs of a policy's replies labelled by the task family's
// true reward (posttrain/reward-run.ts).
import { resolve } from "node:path";
import { OnnxBackend } from "@gemma-ts/core/node";
import { taskPromptIds } from "@gemma-ts/posttrain";
import { Command } from "commander";
import { openRewardModel } from "../posttrain/judge.js";
import { type RewardRunOptions, runRewardTraining } from "../posttrain/reward-run.js";
import { positiveInteger, positiveNumber, seedValue, unitInterval } from "../training/flag-values.js";

export function rewardCommand(): Command {
  return new Command("reward")
    .description("score a reply to a prompt with a reward model; prints {\"score\": x} as JSON")
    .requiredOption("--model <dir>", "the reward model's folder (from train-reward or the recipe)")
    .requiredOption("--prompt <text>", "the user's message")
    .requiredOption("--response <text>", "the reply to score")
    .option("--threads <n>", "onnxruntime intra-op threads (default one per core)", positiveInteger("--threads"))
    .action(async (flags: { model: string; prompt: string; response: string; threads?: number }) => {
      const { folder, model } = await openRewardModel(resolve(flags.model), new OnnxBackend(flags.threads === undefined ? {} : { intraOpThreads: flags.threads }));
      try {
        const ids = [...taskPromptIds(folder.tokenizer, { prompt: flags.prompt }), ...folder.tokenizer.encode(flags.response, { addSpecialTokens: false }).ids];
        const [score] = await model.score([ids]);
        process.stdout.write(`${JSON.stringify({ score })}\n`);
      } finally {
        await model.dispose();
      }
    });
}

type TrainRewardFlags = Pick<RewardRunOptions, "policy" | "out" | "prompts" | "temperature" | "labelNoise" | "epochs" | "batchSize" | "lr" | "seed" | "maxNewTokens"> & {
  tasks: string;
  evalTasks: string;
  threads?: number;
};

export function trainRewardCommand(): Command {
  return new Command("train-reward")
    .description("train a reward model: pairs of a policy's sampled replies labelled by the true reward, Bradley-Terry on a scalar head; writes the model, pairs.jsonl, metrics.jsonl and result.json (held-out pair accuracy) into --out")
    .requiredOption("--policy <dir>", "the policy whose replies are compared; its weights start the reward model")
    .requiredOption("--out <dir>", "the reward model's folder")
    .requiredOption("--tasks <file>", "training tasks (JSONL of {\"kind\", \"prompt\", \"answer\"})")
    .requiredOption("--eval-tasks <file>", "held-out tasks, for the pair accuracy")
    .option("--prompts <n>", "training prompts to draw pairs from", positiveInteger("--prompts"), 3000)
    .option("--temperature <x>", "sampling temperature of the replies", positiveNumber("--temperature"), 1)
    .option("--label-noise <x>", "the share of pairs whose label is flipped", unitInterval("--label-noise"), 0)
    .option("--epochs <n>", "passes over the pairs", positiveInteger("--epochs"), 1)
    .option("--batch-size <n>", "pairs per step", positiveInteger("--batch-size"), 16)
    .option("--lr <x>", "peak learning rate", positiveNumber("--lr"), 1e-4)
    .option("--seed <n>", "seed of the samples, the labels' noise and the head", seedValue("--seed"), 0)
    .option("--max-new-tokens <n>", "reply length", positiveInteger("--max-new-tokens"), 16)
    .option("--threads <n>", "onnxruntime intra-op threads (default one per core)", positiveInteger("--threads"))
    .action(async (flags: TrainRewardFlags) => {
      const { policy, out, tasks, evalTasks, threads, ...rest } = flags;
      await runRewardTraining({
        policy: resolve(policy),
        out: resolve(out),
        trainTasks: resolve(tasks),
        evalTasks: resolve(evalTasks),
        ...rest,
        threads: threads ?? null,
        log: (line) => process.stdout.write(`${line}\n`),
      });
    });
}
