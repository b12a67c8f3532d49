// RLHF by RLOO: each step draws prompts, samples k completions of each from the current policy,
// scores them with a reward function (a reward model's score; the true reward is only reported),
// and takes one policy-gradient step with RLOO's leave-one-out advantages and a per-token KL
// penalty (the k3 estimator) to a reference policy. The reference is fixed (the SFT model) or,
// with `anchorRate`, WARP's exponential moving average of the policy, updated after every step.
// Every draw of a step comes from (seed, step), so a run is reproducible.
import {
  type Backend,
  type Gemma2Config,
  Gemma2Model,
  type Gemma2Params,
  generateBatch,
  type GenerateBatchResult,
  policyGradient,
  Random,
  Trainer,
  type TrainerState,
} from "@gemma-ts/core";
import { emaUpdate } from "../averaging/weight-averaging.js";
import { actionLogprobs, policyGradientBatch, rlooAdvantages, rollout } from "./rollout-batch.js";

/** Scores of completions: one number per (prompt, completion), in order. */
export type RewardFunction = (samples: readonly { prompt: number; completion: readonly number[] }[]) => Promise<number[]>;

export interface RlooOptions {
  config: Gemma2Config;
  /** The policy's starting weights; also the fixed reference unless `reference` is given. */
  params: Gemma2Params;
  reference?: Gemma2Params;
  backend: Backend;
  /** Prompt token ids (e.g. rendered chats ending with the model turn header). */
  prompts: readonly (readonly number[])[];
  reward: RewardFunction;
  /** Samples per prompt (at least 2) and prompts per step. */
  k: number;
  promptsPerStep: number;
  maxNewTokens: number;
  /** Weight of the per-token KL penalty to the reference. */
  klCoef: number;
  /** WARP's EMA anchor: after each step, reference <- (1 - rate) reference + rate policy. */
  anchorRate?: number;
  temperature?: number;
  stopTokens: readonly number[];
  seed: number;
  optimizer?: { weightDecay?: number; maxGradNorm?: number };
}

export interface RlooStepRecord {
  step: number;
  loss: number;
  gradNorm: number;
  /** Mean reward of the step's samples (the reward function's). */
  reward: number;
  /** Mean over completion tokens of log pi(a) - log pi_ref(a): a sample estimate of KL(pi || ref), before the step. */
  kl: number;
  tokens: number;
}

/** What a resumed run needs: the steps done, the policy's weights and moments, and the reference (the EMA anchor moves). */
export interface RlooState {
  step: number;
  trainer: TrainerState;
  reference: Gemma2Params;
}

export class RlooTrainer {
  private readonly trainer: Trainer;
  private policyWeights: Gemma2Params;
  private referenceWeights: Gemma2Params;
  private policy: Gemma2Model | undefined;
  private reference: Gemma2Model | undefined;
  private stale = false;
  private nextStep = 0;

  constructor(private readonly options: RlooOptions) {
    if (options.prompts.length === 0) throw new RangeError("no prompts");
    this.policyWeights = options.params;
    this.referenceWeights = options.reference ?? options.params;
    this.trainer = new Trainer({
      config: options.config,
      backend: options.backend,
      params: options.params,
      objective: policyGradient(options.klCoef),
      optimizer: { noDecay: (name) => name.endsWith("norm.weight"), weightDecay: 0, ...options.optimizer },
      seed: options.seed,
    });
  }

  get step(): number {
    return this.nextStep;
  }

  async train(lr: number): Promise<RlooStepRecord> {
    const { k, promptsPerStep, prompts } = this.options;
    const step = this.nextStep;
    const random = new Random((this.options.seed * 1_000_003 + step) >>> 0);
    const picked = Array.from({ length: promptsPerStep }, () => Math.floor(random.uniform() * prompts.length));
    const samples = picked.flatMap((prompt) => Array.from({ length: k }, () => ({ prompt, seed: random.nextUint32() })));
    const sampled = await this.sample(
      samples.map((sample) => prompts[sample.prompt]!),
      samples.map((sample) => sample.seed),
    );
    const completions = sampled.map((result) => result.tokens);
    const rewards = await this.options.reward(samples.map((sample, i) => ({ prompt: sample.prompt, completion: completions[i]! })));
    const rolled = rollout(
      samples.map((sample) => prompts[sample.prompt]!),
      completions,
      this.options.config.padTokenId,
    );
    const referenceLogprobs = await this.referenceLogprobs(rolled);
    const batch = policyGradientBatch(rolled, rlooAdvantages(rewards, k), referenceLogprobs);
    const { loss, gradNorm } = await this.trainer.step([batch], lr);
    // The policy's log-probs of its samples came with them (temperature aside): completion token j
    // of a row is predicted at position prompt length - 1 + j.
    let kl = 0;
    samples.forEach((sample, r) => {
      const first = prompts[sample.prompt]!.length - 1;
      sampled[r]!.logprobs.forEach((logprob, j) => {
        kl += logprob - referenceLogprobs[r * rolled.sequenceLength + first + j]!;
      });
    });
    this.stale = true;
    this.nextStep++;
    if (this.options.anchorRate !== undefined) {
      this.referenceWeights = emaUpdate(this.referenceWeights, await this.params(), this.options.anchorRate);
      await this.reference?.dispose();
      this.reference = undefined;
    }
    return { step, loss, gradNorm, reward: rewards.reduce((sum, r) => sum + r, 0) / rewards.length, kl: kl / Math.max(1, rolled.tokens), tokens: rolled.tokens };
  }

  /** The policy's current weights (every parameter). */
  async params(): Promise<Gemma2Params> {
    if (this.stale) {
      const updated = new Map(this.policyWeights);
      for (const [name, tensor] of await this.trainer.read()) updated.set(name, tensor);
      this.policyWeights = updated;
      await this.policy?.dispose();
      this.policy = undefined;
      this.stale = false;
    }
    return this.policyWeights;
  }

  async state(): Promise<RlooState> {
    return { step: this.nextStep, trainer: await this.trainer.state(), reference: this.referenceWeights };
  }

  /** Continues from a state: the steps after it draw and update exactly as the uninterrupted run's. */
  async resume(state: RlooState): Promise<void> {
    this.trainer.load(state.trainer);
    this.nextStep = state.step;
    this.referenceWeights = state.reference;
    this.stale = true;
    await this.reference?.dispose();
    this.reference = undefined;
  }

  /** The reference policy's weights (the EMA anchor's, with anchorRate). */
  referenceParams(): Gemma2Params {
    return this.referenceWeights;
  }

  async close(): Promise<void> {
    await this.policy?.dispose();
    await this.reference?.dispose();
    await this.trainer.dispose();
  }

  private async sample(prompts: readonly (readonly number[])[], seeds: readonly number[]): Promise<GenerateBatchResult[]> {
    const weights = await this.params();
    this.policy ??= new Gemma2Model(this.options.config, weights, this.options.backend, { weights: "inputs" });
    const results = await generateBatch(
      this.policy,
      prompts.map((promptIds, i) => ({
        promptIds,
        maxNewTokens: this.options.maxNewTokens,
        sampling: { temperature: this.options.temperature ?? 1, seed: seeds[i]! },
        stopTokens: this.options.stopTokens,
      })),
      { maxBatchSize: prompts.length },
    );
    return results;
  }

  private async referenceLogprobs(rolled: ReturnType<typeof rollout>): Promise<Float32Array> {
    this.reference ??= new Gemma2Model(this.options.config, this.referenceWeights, this.options.backend, { weights: "inputs" });
    const { batchSize: B, sequenceLength: T } = rolled;
    const rows = Array.from({ length: B }, (_, r) => Array.from(rolled.ids.data.subarray(r * T, (r + 1) * T), Number));
    return actionLogprobs(await this.reference.forward(rows), rolled.actions);
  }
}
