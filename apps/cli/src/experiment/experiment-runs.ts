// One model trained for the experiment: a `gemma-ts train` run (training/run-training.ts) in its
// own folder, summarised into result.json when it ends. A run with a result is skipped, and an
// interrupted one resumes from its last checkpoint, so an interrupted experiment continues where
// it stopped.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile } from "@gemma-ts/core/node";
import { isEvalRecord, type MetricsRecord } from "../training/metrics-log.js";
import { exists, METRICS_FILE } from "../training/run-folder.js";
import { RUN_FILE, type RunSettings } from "../training/run-settings.js";
import { runTraining } from "../training/run-training.js";

export const RUN_RESULT_FILE = "result.json";

export interface TrainedRun {
  /** The run's folder, absolute. */
  dir: string;
  steps: number;
  /** Tokens trained on: steps x batch x sequence. */
  tokens: number;
  evalLoss: number;
  perplexity: number;
  /** The median seconds of a step (the first few, which compile, left out). */
  secondsPerStep: number;
  /** The evaluation loss at each evaluation. */
  evalCurve: { step: number; loss: number }[];
}

export interface RunOptions {
  dir: string;
  settings: Partial<RunSettings>;
  evalEvery: number;
  threads: number | null;
}

export async function trainedRun(options: RunOptions): Promise<TrainedRun> {
  const resultFile = join(options.dir, RUN_RESULT_FILE);
  if (await exists(resultFile)) return JSON.parse(await readFile(resultFile, "utf8")) as TrainedRun;
  const steps = options.settings.steps!;
  await runTraining({
    out: options.dir,
    resume: await exists(join(options.dir, RUN_FILE)),
    given: options.settings,
    givenOptions: {
      checkpointEvery: Math.min(steps, 100),
      evalEvery: options.evalEvery,
      keepCheckpoints: 1,
      logEvery: 50,
      ...(options.threads === null ? {} : { threads: options.threads }),
    },
  });
  const records = (await readFile(join(options.dir, METRICS_FILE), "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as MetricsRecord);
  const evaluations = records.filter(isEvalRecord);
  const last = evaluations.at(-1)!;
  const seconds = records.flatMap((record) => (isEvalRecord(record) ? [] : [record.seconds])).slice(3);
  const result: TrainedRun = {
    dir: options.dir,
    steps,
    tokens: steps * options.settings.batchSize! * options.settings.seqLen!,
    evalLoss: last.eval_loss,
    perplexity: last.eval_perplexity,
    secondsPerStep: median(seconds),
    evalCurve: evaluations.map((record) => ({ step: record.step, loss: record.eval_loss })),
  };
  await atomicWriteFile(resultFile, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
