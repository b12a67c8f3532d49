// A reward model: the Gemma 2 backbone with a scalar value head (core's rewardModeling objective,
// weight `score.weight`) read at each sequence's last token, trained with the Bradley-Terry loss
// on preference pairs (chosen above rejected), as TRL's RewardTrainer does. A pair is a prompt's
// two replies as token ids (prompt + reply each); rows are right-padded, and the reward of a row
// is the value head at its last real token.
import {
  type Backend,
  type Gemma2Config,
  type Gemma2Params,
  HostTensor,
  preferencePairs,
  rewardModeling,
  Trainer,
  type TrainBatch,
  VALUE_HEAD,
} from "@gemma-ts/core";

export interface PreferencePair {
  chosen: readonly number[];
  rejected: readonly number[];
}

export interface RewardModelOptions {
  config: Gemma2Config;
  /** The backbone's weights (e.g. the SFT model's). */
  params: Gemma2Params;
  /** A trained value head [1, hidden]; else initialised from `seed`. */
  valueHead?: HostTensor<"float32">;
  backend: Backend;
  /** Train (the backbone and the head) or only score. */
  trainable: boolean;
  seed?: number;
  optimizer?: { weightDecay?: number; maxGradNorm?: number };
}

export class RewardModel {
  private readonly trainer: Trainer;

  constructor(private readonly options: RewardModelOptions) {
    this.trainer = new Trainer({
      config: options.config,
      backend: options.backend,
      params: options.params,
      objective: rewardModeling(options.config.hiddenSize),
      ...(options.trainable ? {} : { trainable: () => false }),
      ...(options.valueHead ? { extraParams: new Map([[VALUE_HEAD, options.valueHead]]) } : {}),
      optimizer: { noDecay: (name) => name.endsWith("norm.weight") || name === VALUE_HEAD, ...options.optimizer },
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
  }

  /** One Bradley-Terry step on pairs; the loss and the share of pairs ranked right, before the update. */
  async train(pairs: readonly PreferencePair[], lr: number): Promise<{ loss: number; gradNorm: number; accuracy: number }> {
    const batch = pairBatch(pairs, this.options.config.padTokenId);
    const { report } = await this.trainer.evaluate(batch);
    const { loss, gradNorm } = await this.trainer.step([batch], lr);
    return { loss, gradNorm, accuracy: pairAccuracy(report.rewards!.toFloat32().data) };
  }

  /** The share of pairs whose chosen reply scores above the rejected one. */
  async accuracy(pairs: readonly PreferencePair[], batchSize = 16): Promise<number> {
    let right = 0;
    for (let from = 0; from < pairs.length; from += batchSize) {
      const chunk = pairs.slice(from, from + batchSize);
      const { report } = await this.trainer.evaluate(pairBatch(chunk, this.options.config.padTokenId));
      right += pairAccuracy(report.rewards!.toFloat32().data) * chunk.length;
    }
    return right / pairs.length;
  }

  /** Rewards of sequences (prompt + reply ids), in order. */
  async score(rows: readonly (readonly number[])[], batchSize = 16): Promise<number[]> {
    const scores: number[] = [];
    for (let from = 0; from < rows.length; from += batchSize) {
      const chunk = rows.slice(from, from + batchSize);
      // Rewards need no pairs; an even row count keeps preferencePairs' layout valid.
      const padded = chunk.length % 2 === 0 ? chunk : [...chunk, chunk[0]!];
      const { report } = await this.trainer.evaluate(rowsBatch(padded, this.options.config.padTokenId));
      scores.push(...Array.from(report.rewards!.toFloat32().data).slice(0, chunk.length));
    }
    return scores;
  }

  /** The backbone's and the value head's current weights. */
  async weights(): Promise<{ params: Gemma2Params; valueHead: HostTensor<"float32"> }> {
    const read = await this.trainer.read(this.options.trainable ? undefined : [VALUE_HEAD]);
    const params: Gemma2Params = new Map(this.options.params);
    let valueHead: HostTensor<"float32"> | undefined;
    for (const [name, tensor] of read) {
      if (name === VALUE_HEAD) valueHead = tensor;
      else params.set(name, tensor);
    }
    return { params, valueHead: valueHead ?? this.options.valueHead! };
  }

  dispose(): Promise<void> {
    return this.trainer.dispose();
  }
}

/** Chosen and rejected rows in turn, with preferencePairs' layout. */
function pairBatch(pairs: readonly PreferencePair[], padTokenId: number): TrainBatch {
  return rowsBatch(
    pairs.flatMap((pair) => [pair.chosen, pair.rejected]),
    padTokenId,
  );
}

function rowsBatch(rows: readonly (readonly number[])[], padTokenId: number): TrainBatch {
  const T = Math.max(...rows.map((row) => row.length));
  const ids = new Array<number>(rows.length * T).fill(padTokenId);
  rows.forEach((row, r) => row.forEach((id, t) => (ids[r * T + t] = id)));
  return {
    ids: HostTensor.int64([rows.length, T], ids),
    lastIndex: HostTensor.int64(
      [rows.length],
      rows.map((row) => row.length - 1),
    ),
    pairs: preferencePairs(rows.length),
  };
}

/** Rewards laid out chosen, rejected, ...: the share of pairs with chosen > rejected. */
function pairAccuracy(rewards: ArrayLike<number>): number {
  let right = 0;
  for (let p = 0; p < rewards.length / 2; p++) if (rewards[2 * p]! > rewards[2 * p + 1]!) right++;
  return right / (rewards.length / 2);
}
