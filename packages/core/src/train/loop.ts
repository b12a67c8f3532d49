// The one training loop. Every stage (pre-training, distillation, SFT, reward modelling) is a
// step function (loss and gradients for a batch) plus a batch source; the loop clips, updates,
// schedules the learning rate and reports. It reads top to bottom on purpose.
import type { AdamW } from "../optim/adamw.js";
import { clipGradNorm } from "../optim/clip-grad-norm.js";
import type { HostTensor } from "../tensor/host-tensor.js";

export interface TrainStepOutput {
  loss: number;
  grads: Map<string, HostTensor<"float32">>;
}

export interface TrainOptions<Batch> {
  params: Map<string, HostTensor<"float32">>;
  optimizer: AdamW;
  /** Learning rate at a step (0-based). */
  schedule: (step: number) => number;
  /** The batch of a step: a pure function of the step, so a resumed run sees the same data. */
  batch: (step: number) => Batch;
  step: (params: Map<string, HostTensor<"float32">>, batch: Batch) => Promise<TrainStepOutput>;
  /** Steps to run, starting at `startStep` (for resuming; default 0). */
  steps: number;
  startStep?: number;
  maxGradNorm?: number;
  log?: (record: { step: number; loss: number; lr: number; gradNorm: number; seconds: number }) => void;
  /** Called after each step (e.g. to evaluate or checkpoint every n steps). */
  afterStep?: (step: number) => Promise<void> | void;
}

export async function train<Batch>(options: TrainOptions<Batch>): Promise<number[]> {
  const losses: number[] = [];
  const first = options.startStep ?? 0;
  for (let step = first; step < first + options.steps; step++) {
    const started = performance.now();
    const { loss, grads } = await options.step(options.params, options.batch(step));
    const gradNorm = options.maxGradNorm === undefined ? Number.NaN : clipGradNorm(grads, options.maxGradNorm);
    const lr = options.schedule(step);
    options.optimizer.step(options.params, grads, lr);
    losses.push(loss);
    options.log?.({ step, loss, lr, gradNorm, seconds: (performance.now() - started) / 1000 });
    await options.afterStep?.(step);
  }
  return losses;
}
