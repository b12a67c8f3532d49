// RLHF as `gemma-ts rlhf` and the recipe run it: RLOO from a policy (the SFT model, also the KL
// reference unless the EMA anchor moves it) against a reward model's score, on the training
// tasks' prompts. The true reward of the same samples is logged beside the reward model's score,
// and every `evalEvery` steps the policy's greedy replies to evaluation prompts are scored by
// both, so reward hacking (the score rising while the true reward falls) shows in metrics.jsonl.
// Checkpoints hold the policy, its moments and the reference; every draw of a step comes from
// (seed, step), so a resumed run computes what the uninterrupted one computes.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { warmupCosine } from "@gemma-ts/core";
import { loadHfCheckpoint, loadTrainingState, OnnxBackend, saveTrainingState } from "@gemma-ts/core/node";
import { replyStopTokens, type RlooState, RlooTrainer, taskPromptIds, trueReward } from "@gemma-ts/posttrain";
import { InvalidArgumentError } from "commander";
import { RecordLog } from "../training/metrics-log.js";
import { type RunFormat, readRunRecord, resumedSettings, writeRunRecord } from "../training/run-file.js";
import { checkpointDir, checkpointSteps, pruneCheckpoints, removePartialCheckpoints, writeCheckpointFolder } from "../training/run-folder.js";
import { judgeGreedy, openRewardModel } from "./judge.js";
import { type ModelFolder, readModelFolder, writeModelFolder } from "./model-folder.js";
import { readTasks } from "./task-files.js";

const RLHF_RUN: RunFormat = { format: "gemma-ts-rlhf-run", version: 1, describe: "a gemma-ts RLHF run file (format gemma-ts-rlhf-run, version 1); choose another --out" };
export const RLHF_METRICS_FILE = "metrics.jsonl";
const REFERENCE_DIR = "reference";

export interface RlhfSettings {
  /** The starting policy and KL reference (absolute path), and the reward model's folder. */
  policy: string;
  rewardModel: string;
  /** Task files: prompts to train on, prompts to evaluate on. */
  trainTasks: string;
  evalTasks: string;
  steps: number;
  /** Samples per prompt (RLOO's k) and prompts per step. */
  k: number;
  promptsPerStep: number;
  lr: number;
  /** The per-token KL penalty's weight. */
  klCoef: number;
  /** WARP's EMA anchor rate; null keeps the reference fixed at the policy's start. */
  anchorRate: number | null;
  temperature: number;
  maxNewTokens: number;
  seed: number;
  /** Steps between evaluations on `evalPrompts` of the evaluation tasks (greedy). */
  evalEvery: number;
  evalPrompts: number;
}

export const RLHF_FLAGS: Readonly<Record<keyof RlhfSettings, string>> = {
  policy: "--model",
  rewardModel: "--reward-model",
  trainTasks: "--tasks",
  evalTasks: "--eval-tasks",
  steps: "--steps",
  k: "--k",
  promptsPerStep: "--prompts-per-step",
  lr: "--lr",
  klCoef: "--kl",
  anchorRate: "--anchor-rate",
  temperature: "--temperature",
  maxNewTokens: "--max-new-tokens",
  seed: "--seed",
  evalEvery: "--eval-every",
  evalPrompts: "--eval-prompts",
};

export interface RlhfStepRecord {
  step: number;
  loss: number;
  grad_norm: number;
  /** Mean reward-model score and mean true reward of the step's samples. */
  rm_score: number;
  true_reward: number;
  /** Sample estimate of KL(policy || reference) per completion token, before the step. */
  kl: number;
  lr: number;
  seconds: number;
}

export interface RlhfEvalRecord {
  step: number;
  eval_true_reward: number;
  eval_rm_score: number;
}

export type RlhfRecord = RlhfStepRecord | RlhfEvalRecord;

export function isRlhfEval(record: RlhfRecord): record is RlhfEvalRecord {
  return "eval_true_reward" in record;
}

export interface RlhfRunOptions {
  out: string;
  /** Settings given (a resumed run keeps its saved ones; a given one must agree). */
  settings: RlhfSettings;
  resume: boolean;
  checkpointEvery: number;
  threads: number | null;
  log: (line: string) => void;
}

/** Runs (or resumes) the run; returns its metrics' records. */
export async function runRlhf(options: RlhfRunOptions): Promise<RlhfRecord[]> {
  const { out, log } = options;
  await mkdir(out, { recursive: true });
  const saved = await readRunRecord(out, RLHF_RUN);
  if (saved && !options.resume) throw new InvalidArgumentError(`${out} already holds an RLHF run; continue it with --resume or choose another --out`);
  const settings = saved ? resumedSettings(saved.settings as unknown as RlhfSettings, options.settings, RLHF_FLAGS, saved.file) : options.settings;
  if (settings.k < 2) throw new InvalidArgumentError(`--k ${settings.k}: RLOO needs at least 2 samples per prompt`);
  await writeRunRecord(out, RLHF_RUN, { settings, options: { checkpointEvery: options.checkpointEvery, threads: options.threads } });

  const policy = await readModelFolder(settings.policy);
  const backend = new OnnxBackend(options.threads === null ? {} : { intraOpThreads: options.threads });
  const { folder: judge, model: rewardModel } = await openRewardModel(settings.rewardModel, backend);
  if (!Buffer.from(judge.tokenizerJson).equals(Buffer.from(policy.tokenizerJson))) {
    await rewardModel.dispose();
    throw new InvalidArgumentError(`${settings.rewardModel} has another tokenizer than ${settings.policy}; the reward model scores the policy's token ids`);
  }
  const trainTasks = await readTasks(settings.trainTasks);
  const evalTasks = (await readTasks(settings.evalTasks)).slice(0, settings.evalPrompts);
  const prompts = trainTasks.map((task) => taskPromptIds(policy.tokenizer, task));
  let sampledTrueReward = 0;
  const trainer = new RlooTrainer({
    config: policy.config,
    params: policy.params,
    backend,
    prompts,
    k: settings.k,
    promptsPerStep: settings.promptsPerStep,
    maxNewTokens: settings.maxNewTokens,
    klCoef: settings.klCoef,
    ...(settings.anchorRate === null ? {} : { anchorRate: settings.anchorRate }),
    temperature: settings.temperature,
    stopTokens: replyStopTokens(policy.tokenizer),
    seed: settings.seed,
    reward: async (samples) => {
      const truth = samples.map((sample) => trueReward(policy.tokenizer.decode(sample.completion, { skipSpecialTokens: true }), trainTasks[sample.prompt]!.answer));
      sampledTrueReward = truth.reduce((sum, value) => sum + value, 0) / truth.length;
      return rewardModel.score(
        samples.map((sample) => [...prompts[sample.prompt]!, ...sample.completion]),
        64,
      );
    },
  });
  try {
    await removePartialCheckpoints(out);
    const latest = saved ? (await checkpointSteps(out)).at(-1) : undefined;
    if (latest !== undefined) await trainer.resume(await loadRlhfCheckpoint(out, latest));
    const start = latest ?? 0;
    // Records of steps before the checkpoint, in order (evaluations ride along with their step).
    const metrics = await RecordLog.open<RlhfRecord>(join(out, RLHF_METRICS_FILE), (record) => record.step <= start);
    try {
      log(start > 0 ? `resuming ${out} from step ${start} of ${settings.steps}` : `RLOO: ${settings.steps} steps of ${settings.promptsPerStep} prompts x ${settings.k} samples, KL ${settings.klCoef}${settings.anchorRate === null ? "" : `, EMA anchor ${settings.anchorRate}`}`);
      const schedule = warmupCosine({ maxLr: settings.lr, warmupSteps: Math.ceil(settings.steps / 20), totalSteps: settings.steps });
      const evaluate = async (step: number) => {
        const { evaluation, rmScore } = await judgeGreedy(policy, await trainer.params(), rewardModel, evalTasks, settings.maxNewTokens, backend);
        await metrics.append({ step, eval_true_reward: evaluation.trueReward, eval_rm_score: rmScore });
        log(`step ${step}: greedy on ${evalTasks.length} eval prompts, true reward ${evaluation.trueReward.toFixed(3)}, reward model ${rmScore.toFixed(3)}`);
      };
      if (start === 0) await evaluate(0);
      for (let step = start; step < settings.steps; step++) {
        const started = performance.now();
        const lr = schedule(step);
        const record = await trainer.train(lr);
        if (!Number.isFinite(record.loss)) throw new InvalidArgumentError(`the loss is ${record.loss} at step ${step + 1}; try a lower --lr`);
        const done = step + 1;
        await metrics.append({ step: done, loss: record.loss, grad_norm: record.gradNorm, rm_score: record.reward, true_reward: sampledTrueReward, kl: record.kl, lr, seconds: (performance.now() - started) / 1000 });
        if (done % 10 === 0 || done === settings.steps) log(`step ${done}/${settings.steps}: reward model ${record.reward.toFixed(3)}, true reward ${sampledTrueReward.toFixed(3)}, KL ${record.kl.toFixed(4)}`);
        if (done % settings.evalEvery === 0 || done === settings.steps) await evaluate(done);
        if (done % options.checkpointEvery === 0 || done === settings.steps) {
          await saveRlhfCheckpoint(out, trainer, policy);
          await pruneCheckpoints(out, 1);
        }
      }
      await writeModelFolder(out, { config: policy.config, params: await trainer.params(), tokenizerJson: policy.tokenizerJson });
      return metrics.records;
    } finally {
      await metrics.close();
    }
  } finally {
    await trainer.close();
    await rewardModel.dispose();
  }
}

async function saveRlhfCheckpoint(out: string, trainer: RlooTrainer, policy: ModelFolder): Promise<void> {
  const state = await trainer.state();
  await writeCheckpointFolder(out, state.step, async (dir) => {
    await writeModelFolder(dir, { config: policy.config, params: await trainer.params(), tokenizerJson: policy.tokenizerJson });
    await saveTrainingState(dir, { step: state.step, optimizer: state.trainer.optimizer });
    await writeModelFolder(join(dir, REFERENCE_DIR), { config: policy.config, params: state.reference, tokenizerJson: policy.tokenizerJson });
  });
}

async function loadRlhfCheckpoint(out: string, step: number): Promise<RlooState> {
  const dir = checkpointDir(out, step);
  const training = await loadTrainingState(dir);
  if (training.step !== step) throw new InvalidArgumentError(`${dir} holds the state after step ${training.step}, not ${step}`);
  const { params } = await loadHfCheckpoint(dir);
  return { step, trainer: { trainable: params, optimizer: training.optimizer }, reference: (await loadHfCheckpoint(join(dir, REFERENCE_DIR))).params };
}
