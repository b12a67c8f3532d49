// On-policy distillation (GKD, Agarwal et al., 2024; as TRL's GKDTrainer): each step the student
// generates completions of a batch of prompts (with probability lambda; otherwise the dataset's own
// responses are used), the teacher scores prompt + completion, and the student takes one step of
// the generalised JSD(beta) against the teacher's top-k on the completion positions only. The
// samples are data: no gradient flows through sampling. Everything a step draws (its prompts, the
// on/off-policy coin, the rows' sampling seeds) comes from (seed, step), so a run is reproducible,
// and a run restored from state() (the step, the weights and AdamW's moments) continues it exactly.
import {
  type Backend,
  type GenerateBatchOptions,
  type GenerateBatchRequest,
  type GenerateBatchResult,
  type Gemma2Config,
  Gemma2Model,
  type Gemma2Params,
  generateBatch,
  onPolicyDistillation,
  Random,
  Trainer,
  type TrainBatch,
  type TrainerState,
} from "@gemma-ts/core";
import { InvalidArgumentError, VocabularyMismatchError } from "./errors.js";
import { onPolicyBatch } from "./on-policy-batch.js";
import type { Teacher } from "./teacher.js";

/** A prompt (token ids, e.g. a rendered chat ending with the model turn header) and its reference response. */
export interface OnPolicyExample {
  prompt: readonly number[];
  /** The dataset's response (off-policy steps train on it); every example has one, or none does. */
  response?: readonly number[];
}

/** How the student's completions are generated: core's generateBatch, or a wrapper around it. */
export type OnPolicySampler = (model: Gemma2Model, requests: readonly GenerateBatchRequest[], options?: GenerateBatchOptions) => Promise<GenerateBatchResult[]>;

export interface OnPolicyOptions {
  /** The student's architecture and starting weights. */
  config: Gemma2Config;
  params: Gemma2Params;
  /** Runs the student's training steps and its sampling. */
  backend: Backend;
  teacher: Teacher;
  examples: readonly OnPolicyExample[];
  /** Rows per step. */
  batchSize: number;
  maxNewTokens: number;
  /** Teacher entries per position (top-k). */
  k: number;
  /** JSD(beta): 0 forward KL, 1 reverse KL. */
  beta: number;
  /** The probability that a step trains on the student's own samples (forced to 1 without responses). */
  lambda: number;
  seed: number;
  /** Generation ends after one of these (e.g. <end_of_turn>, <eos>). */
  stopTokens: readonly number[];
  /** Sampling temperature of the student (default 1, as GKD samples). */
  temperature?: number;
  optimizer?: { weightDecay?: number; maxGradNorm?: number };
  /** Default: core's generateBatch. */
  sampler?: OnPolicySampler;
}

export interface OnPolicyStepRecord {
  step: number;
  /** JSD(beta) to the teacher over the step's completion tokens, before the update. */
  loss: number;
  gradNorm: number;
  /** Whether the student generated the completions (otherwise the dataset's responses were used). */
  onPolicy: boolean;
  /** Completion tokens trained on. */
  tokens: number;
}

/** What a run needs to continue exactly: the next step and the trainer's weights and moments. */
export interface OnPolicyState {
  /** The step the next call to train() runs (0-based): the steps done. */
  step: number;
  trainer: TrainerState;
}

export class OnPolicyDistiller {
  readonly lambda: number;
  private readonly trainer: Trainer;
  private readonly sampler: OnPolicySampler;
  private weights: Gemma2Params;
  private student: Gemma2Model | undefined;
  private stale = false;
  private nextStep = 0;

  constructor(private readonly options: OnPolicyOptions) {
    const { config, teacher, examples } = options;
    if (teacher.vocabulary.size !== config.vocabSize) throw new VocabularyMismatchError("vocabSize", teacher.vocabulary.size, config.vocabSize);
    checkCount("batchSize", options.batchSize);
    checkCount("maxNewTokens", options.maxNewTokens);
    checkCount("k", options.k);
    if (options.k > config.vocabSize) throw new InvalidArgumentError("k", `expected at most the vocabulary size ${config.vocabSize}, got ${options.k}`);
    if (!(options.lambda >= 0 && options.lambda <= 1)) throw new InvalidArgumentError("lambda", `expected a number in [0, 1], got ${options.lambda}`);
    if (!(options.beta >= 0 && options.beta <= 1)) throw new InvalidArgumentError("beta", `expected a number in [0, 1], got ${options.beta}`);
    if (examples.length === 0) throw new InvalidArgumentError("examples", "no prompts to distill on");
    const withResponse = examples.filter((example) => example.response !== undefined).length;
    if (withResponse !== 0 && withResponse !== examples.length) {
      throw new InvalidArgumentError("examples", `${withResponse} of ${examples.length} examples have a response: every example needs one (for off-policy steps) or none does`);
    }
    const longest = Math.min(config.maxPositionEmbeddings, teacher.maxContext);
    examples.forEach((example, i) => {
      if (example.prompt.length === 0) throw new InvalidArgumentError(`examples[${i}].prompt`, "a prompt needs at least one token (e.g. <bos>)");
      if (example.prompt.length + options.maxNewTokens - 1 > longest) {
        throw new InvalidArgumentError(`examples[${i}].prompt`, `${example.prompt.length} tokens and ${options.maxNewTokens} new ones exceed the ${longest} positions the student and teacher read`);
      }
      if (example.response !== undefined && (example.response.length === 0 || example.prompt.length + example.response.length - 1 > longest)) {
        throw new InvalidArgumentError(`examples[${i}].response`, `expected 1 to ${longest - example.prompt.length + 1} tokens, got ${example.response.length}`);
      }
    });
    // Without responses there is nothing off-policy to train on: every step samples.
    this.lambda = withResponse === 0 ? 1 : options.lambda;
    this.sampler = options.sampler ?? generateBatch;
    this.weights = options.params;
    this.trainer = new Trainer({
      config,
      backend: options.backend,
      params: options.params,
      objective: onPolicyDistillation(options.k, options.beta),
      optimizer: { noDecay: (name) => name.endsWith("norm.weight"), ...options.optimizer },
      seed: options.seed,
    });
  }

  /** The step the next call to train() runs (0-based). */
  get step(): number {
    return this.nextStep;
  }

  /** The state after the steps done so far, for resume(). */
  async state(): Promise<OnPolicyState> {
    return { step: this.nextStep, trainer: await this.trainer.state() };
  }

  /**
   * Continues from a state of a distiller with the same options: the next train() runs its step
   * with its weights and moments, so the losses are the uninterrupted run's, bit for bit.
   */
  resume(state: OnPolicyState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new InvalidArgumentError("state.step", `expected a non-negative integer, got ${state.step}`);
    this.trainer.load(state.trainer);
    this.nextStep = state.step;
    // The sampling model holds the weights it was built with: rebuild it from the loaded ones.
    this.stale = true;
  }

  /** Draws the step's batch, builds its completions and teacher scores, and trains once at `lr`. */
  async train(lr: number): Promise<OnPolicyStepRecord> {
    const step = this.nextStep;
    const random = new Random((this.options.seed * 1_000_003 + step) >>> 0);
    // Drawn every step, whatever lambda is, so the rest of the step's draws do not depend on it.
    const onPolicy = random.uniform() < this.lambda;
    const { examples } = this.options;
    const picked = Array.from({ length: this.options.batchSize }, () => examples[Math.floor(random.uniform() * examples.length)]!);
    const seeds = picked.map(() => random.nextUint32());
    const completions = onPolicy ? await this.sample(picked.map((example) => example.prompt), seeds) : picked.map((example) => example.response!);
    const { batch, tokens } = await this.batch(
      picked.map((example) => example.prompt),
      completions,
    );
    const { loss, gradNorm } = await this.trainer.step([batch], lr);
    this.stale = true;
    this.nextStep++;
    return { step, loss, gradNorm, onPolicy, tokens };
  }

  /**
   * The student's mean per-token JSD(beta) to the teacher over its own samples of `prompts` (seeded
   * by `seed`), weighted by tokens: what on-policy distillation lowers.
   */
  async divergence(prompts: readonly (readonly number[])[], seed: number): Promise<{ divergence: number; tokens: number }> {
    const random = new Random(seed >>> 0);
    let sum = 0;
    let tokens = 0;
    for (let from = 0; from < prompts.length; from += this.options.batchSize) {
      const chunk = prompts.slice(from, from + this.options.batchSize);
      const completions = await this.sample(
        chunk,
        chunk.map(() => random.nextUint32()),
      );
      const built = await this.batch(chunk, completions);
      const { loss } = await this.trainer.evaluate(built.batch);
      sum += loss * built.tokens;
      tokens += built.tokens;
    }
    return { divergence: tokens === 0 ? 0 : sum / tokens, tokens };
  }

  /** The student's current weights (every parameter). */
  async params(): Promise<Gemma2Params> {
    await this.refresh();
    return this.weights;
  }

  async close(): Promise<void> {
    await this.student?.dispose();
    this.student = undefined;
  }

  private async refresh(): Promise<void> {
    if (!this.stale) return;
    const updated = new Map(this.weights);
    for (const [name, tensor] of await this.trainer.read()) updated.set(name, tensor);
    this.weights = updated;
    await this.student?.dispose();
    this.student = undefined;
    this.stale = false;
  }

  private async sample(prompts: readonly (readonly number[])[], seeds: readonly number[]): Promise<number[][]> {
    await this.refresh();
    // Weights as graph inputs: the graph compiles once per model, not with each step's weights baked in.
    this.student ??= new Gemma2Model(this.options.config, this.weights, this.options.backend, { weights: "inputs" });
    const temperature = this.options.temperature ?? 1;
    const requests = prompts.map((promptIds, i) => ({
      promptIds,
      maxNewTokens: this.options.maxNewTokens,
      sampling: { temperature, seed: seeds[i]! },
      stopTokens: this.options.stopTokens,
    }));
    const results = await this.sampler(this.student, requests, { maxBatchSize: this.options.batchSize });
    return results.map((result) => result.tokens);
  }

  private async batch(prompts: readonly (readonly number[])[], completions: readonly (readonly number[])[]): Promise<{ batch: TrainBatch; tokens: number }> {
    return onPolicyBatch(this.options.teacher, prompts, completions, { k: this.options.k, padTokenId: this.options.config.padTokenId, seed: this.options.seed });
  }
}

export interface OnPolicyRunOptions extends OnPolicyOptions {
  steps: number;
  /** A constant rate, or one per step. */
  lr: number | ((step: number) => number);
  /** Continue a run from its state (OnPolicyDistiller.state()) instead of starting at step 0. */
  resume?: OnPolicyState;
  onStep?: (record: OnPolicyStepRecord) => void | Promise<void>;
}

/** Runs on-policy distillation up to `steps` steps (from the resumed state's step, else 0); returns the student's weights and each step's record. */
export async function distillOnPolicy(options: OnPolicyRunOptions): Promise<{ params: Gemma2Params; records: OnPolicyStepRecord[] }> {
  checkCount("steps", options.steps);
  const distiller = new OnPolicyDistiller(options);
  const records: OnPolicyStepRecord[] = [];
  try {
    if (options.resume) distiller.resume(options.resume);
    for (let step = distiller.step; step < options.steps; step++) {
      const record = await distiller.train(typeof options.lr === "number" ? options.lr : options.lr(step));
      records.push(record);
      await options.onStep?.(record);
    }
    return { params: await distiller.params(), records };
  } finally {
    await distiller.close();
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(name, `expected a positive integer, got ${value}`);
}
