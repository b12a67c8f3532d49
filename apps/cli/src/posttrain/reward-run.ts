// The reward model stage, as `gemma-ts reward train` and the recipe run it: preference pairs drawn
// from a policy (two sampled replies a prompt, labelled by the true reward, ties dropped, an
// optional share of labels flipped), a reward model fine-tuned from the policy's weights with a
// scalar head on the last token (Bradley-Terry, as TRL's RewardTrainer), and its accuracy on pairs
// from held-out prompts. Writes the model (transformers' Gemma2ForSequenceClassification folder
// with tokenizer.json), pairs.jsonl, metrics.jsonl and result.json. The stage is short and every
// draw comes from the seed, so an interrupted one starts over and reaches the same model.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Gemma2Model, warmupCosine } from "@gemma-ts/core";
import { atomicWriteFile, OnnxBackend, readJsonFile } from "@gemma-ts/core/node";
import { type LabelledPair, RewardModel, samplePreferencePairs } from "@gemma-ts/posttrain";
import { RecordLog } from "../training/metrics-log.js";
import { exists } from "../training/run-folder.js";
import { readModelFolder, writeModelFolder } from "./model-folder.js";
import { readTasks } from "./task-files.js";

export const REWARD_RESULT_FILE = "result.json";

export interface RewardRunOptions {
  /** The policy whose replies are compared; its weights start the reward model. */
  policy: string;
  out: string;
  trainTasks: string;
  evalTasks: string;
  /** Training prompts to draw pairs from (at most the file's). */
  prompts: number;
  temperature: number;
  labelNoise: number;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  maxNewTokens: number;
  threads: number | null;
  log: (line: string) => void;
}

export interface RewardResult {
  pairs: number;
  ties: number;
  flipped: number;
  heldOutPairs: number;
  heldOutAccuracy: number;
  steps: number;
  seconds: number;
}

export interface RewardRecord {
  step: number;
  loss: number;
  accuracy: number;
  lr: number;
}

export async function runRewardTraining(options: RewardRunOptions): Promise<RewardResult> {
  const { out, log } = options;
  const resultFile = join(out, REWARD_RESULT_FILE);
  if (await exists(resultFile)) return (await readJsonFile(resultFile)) as RewardResult;
  const started = performance.now();
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const policy = await readModelFolder(options.policy);
  const backend = new OnnxBackend(options.threads === null ? {} : { intraOpThreads: options.threads });
  const sampler = new Gemma2Model(policy.config, policy.params, backend, { weights: "inputs" });
  const draw = { maxNewTokens: options.maxNewTokens, temperature: options.temperature, labelNoise: options.labelNoise, batchSize: 64 };
  const trainTasks = (await readTasks(options.trainTasks)).slice(0, options.prompts);
  const train = await samplePreferencePairs(sampler, policy.tokenizer, trainTasks, { ...draw, seed: options.seed });
  // Held-out pairs keep their true labels: accuracy is against the true reward.
  const heldOut = await samplePreferencePairs(sampler, policy.tokenizer, await readTasks(options.evalTasks), { ...draw, labelNoise: 0, seed: options.seed + 1 });
  await sampler.dispose();
  await writePairs(join(out, "pairs.jsonl"), train.pairs);
  const flipped = train.pairs.filter((pair) => pair.flipped).length;
  log(`pairs: ${train.pairs.length} from ${trainTasks.length} prompts (${train.ties} ties dropped, ${flipped} labels flipped); ${heldOut.pairs.length} held-out pairs`);
  // A policy never right (or always) gives only ties: the head stays as initialised, and the report says so.
  if (train.pairs.length === 0) log(`warning: every pair of replies from ${options.policy} tied on the true reward; the reward model is untrained`);

  const model = new RewardModel({ config: policy.config, params: policy.params, backend, trainable: true, seed: options.seed, optimizer: { weightDecay: 0, maxGradNorm: 1 } });
  const metrics = await RecordLog.open<RewardRecord>(join(out, "metrics.jsonl"), () => false);
  const batches = Math.ceil(train.pairs.length / options.batchSize);
  const steps = batches * options.epochs;
  const schedule = warmupCosine({ maxLr: options.lr, warmupSteps: Math.ceil(steps / 20), totalSteps: Math.max(1, steps) });
  try {
    for (let step = 0; step < steps; step++) {
      const from = (step % batches) * options.batchSize;
      const lr = schedule(step);
      const { loss, accuracy } = await model.train(train.pairs.slice(from, from + options.batchSize), lr);
      await metrics.append({ step: step + 1, loss, accuracy, lr });
      if ((step + 1) % 25 === 0 || step + 1 === steps) log(`reward model step ${step + 1}/${steps}: loss ${loss.toFixed(4)}, batch accuracy ${accuracy.toFixed(2)}`);
    }
    const heldOutAccuracy = heldOut.pairs.length > 0 ? await model.accuracy(heldOut.pairs) : Number.NaN;
    const { params, valueHead } = await model.weights();
    await writeModelFolder(out, { config: policy.config, params, valueHead, tokenizerJson: policy.tokenizerJson });
    const result: RewardResult = {
      pairs: train.pairs.length,
      ties: train.ties,
      flipped,
      heldOutPairs: heldOut.pairs.length,
      heldOutAccuracy,
      steps,
      seconds: (performance.now() - started) / 1000,
    };
    await atomicWriteFile(resultFile, `${JSON.stringify(result, null, 2)}\n`);
    if (heldOut.pairs.length > 0) log(`reward model: held-out pair accuracy ${(heldOutAccuracy * 100).toFixed(1)}% on ${heldOut.pairs.length} pairs`);
    return result;
  } finally {
    await metrics.close();
    await model.dispose();
  }
}

async function writePairs(file: string, pairs: readonly LabelledPair[]): Promise<void> {
  await atomicWriteFile(file, pairs.map((pair) => `${JSON.stringify({ prompt: pair.prompt, chosen: pair.replies[0], rejected: pair.replies[1], flipped: pair.flipped })}\n`).join(""));
}
