// The one training loop. Every stage (pre-training, distillation, SFT, reward modelling, RLHF) is
// a Trainer (weights, objective, optimiser) plus a batch source; the loop schedules the learning
// rate, steps and reports. Batches and rates are pure functions of the step, so a run resumed at
// step n continues exactly as the uninterrupted one would. It reads top to bottom on purpose.
import type { TrainBatch, Trainer } from "./trainer.js";

export interface TrainRecord {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  seconds: number;
}

export interface TrainOptions {
  trainer: Trainer;
  /** Learning rate at a step (0-based). */
  schedule: (step: number) => number;
  /** The batch of a step, or its micro-batches (gradient accumulation); may be read asynchronously. */
  batch: (step: number) => TrainBatch | readonly TrainBatch[] | Promise<TrainBatch | readonly TrainBatch[]>;
  /** Steps to run, starting at `startStep` (for resuming; default 0). */
  steps: number;
  startStep?: number;
  log?: (record: TrainRecord) => void;
  /** Called after each step (e.g. to evaluate or checkpoint every n steps). */
  afterStep?: (step: number) => Promise<void> | void;
}

export async function train(options: TrainOptions): Promise<number[]> {
  const losses: number[] = [];
  const first = options.startStep ?? 0;
  for (let step = first; step < first + options.steps; step++) {
    const started = performance.now();
    const batch = await options.batch(step);
    const lr = options.schedule(step);
    const { loss, gradNorm } = await options.trainer.step(Array.isArray(batch) ? batch : [batch as TrainBatch], lr);
    losses.push(loss);
    options.log?.({ step, loss, lr, gradNorm, seconds: (performance.now() - started) / 1000 });
    await options.afterStep?.(step);
  }
  return losses;
}
