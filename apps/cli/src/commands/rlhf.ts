// gemma-ts rlhf: RLOO against a reward model with a per-token KL penalty to the starting policy
// (or WARP's EMA anchor of it), on the task family's prompts (posttrain/rlhf-run.ts). Logs the
// reward model's score and the true reward side by side; --resume continues from a checkpoint.
import { resolve } from "node:path";
import { Command } from "commander";
import { runRlhf, type RlhfSettings } from "../posttrain/rlhf-run.js";
import { nonNegativeNumber, positiveInteger, positiveNumber, seedValue, unitInterval } from "../training/flag-values.js";

interface RlhfFlags extends Omit<RlhfSettings, "policy" | "rewardModel" | "trainTasks" | "evalTasks" | "anchorRate" | "klCoef"> {
  model: string;
  rewardModel: string;
  tasks: string;
  evalTasks: string;
  out: string;
  kl: number;
  anchorRate?: number;
  resume?: boolean;
  checkpointEvery: number;
  threads?: number;
}

export function rlhfCommand(): Command {
  return new Command("rlhf")
    .description("RLHF by RLOO: k samples a prompt, leave-one-out advantages on the reward model's score, a per-token KL penalty to the reference; writes metrics.jsonl (reward model score, true reward, KL), checkpoints and the final model into --out")
    .requiredOption("--model <dir>", "the starting policy (e.g. the SFT model); also the KL reference")
    .requiredOption("--reward-model <dir>", "the reward model (from train-reward)")
    .requiredOption("--tasks <file>", "training tasks (JSONL of {\"kind\", \"prompt\", \"answer\"}): their prompts are sampled")
    .requiredOption("--eval-tasks <file>", "held-out tasks for the periodic greedy evaluation")
    .requiredOption("--out <dir>", "the run's folder")
    .option("--steps <n>", "policy updates", positiveInteger("--steps"), 60)
    .option("--k <n>", "samples per prompt (at least 2)", positiveInteger("--k"), 4)
    .option("--prompts-per-step <n>", "prompts per update", positiveInteger("--prompts-per-step"), 16)
    .option("--lr <x>", "peak learning rate", positiveNumber("--lr"), 1e-4)
    .option("--kl <x>", "weight of the per-token KL penalty", nonNegativeNumber("--kl"), 0.05)
    .option("--anchor-rate <x>", "WARP's EMA anchor: the reference moves this share towards the policy after each step (default: a fixed reference)", unitInterval("--anchor-rate"))
    .option("--temperature <x>", "sampling temperature", positiveNumber("--temperature"), 1)
    .option("--max-new-tokens <n>", "reply length", positiveInteger("--max-new-tokens"), 16)
    .option("--seed <n>", "seed of the prompts and samples", seedValue("--seed"), 0)
    .option("--eval-every <n>", "steps between greedy evaluations", positiveInteger("--eval-every"), 20)
    .option("--eval-prompts <n>", "held-out prompts in each evaluation", positiveInteger("--eval-prompts"), 100)
    .option("--checkpoint-every <n>", "steps between checkpoints", positiveInteger("--checkpoint-every"), 20)
    .option("--resume", "continue the run in --out from its latest checkpoint")
    .option("--threads <n>", "onnxruntime intra-op threads (default one per core)", positiveInteger("--threads"))
    .action(async (flags: RlhfFlags) => {
      await runRlhf({
        out: resolve(flags.out),
        settings: {
          policy: resolve(flags.model),
          rewardModel: resolve(flags.rewardModel),
          trainTasks: resolve(flags.tasks),
          evalTasks: resolve(flags.evalTasks),
          steps: flags.steps,
          k: flags.k,
          promptsPerStep: flags.promptsPerStep,
          lr: flags.lr,
          klCoef: flags.kl,
          anchorRate: flags.anchorRate ?? null,
          temperature: flags.temperature,
          maxNewTokens: flags.maxNewTokens,
          seed: flags.seed,
          evalEvery: flags.evalEvery,
          evalPrompts: flags.evalPrompts,
        },
        resume: flags.resume === true,
        checkpointEvery: flags.checkpointEvery,
        threads: flags.threads ?? null,
        log: (line) => process.stdout.write(`${line}\n`),
      });
    });
}
