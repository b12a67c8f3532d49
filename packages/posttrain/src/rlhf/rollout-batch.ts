// The training batch of a policy-gradient step on sampled completions, for core's
// policyGradient(klCoef) objective: rows of prompt + completion less its last token (the positions
// generation read), right-padded; `actions` the next token at each position; `mask` 1 where that
// next token is a completion token; `advantages` the row's advantage on those positions; and the
// reference policy's log-probs of the actions (the KL anchor).
import { HostTensor, type TrainBatch } from "@gemma-ts/core";

export interface Rollout {
  ids: HostTensor<"int64">;
  actions: HostTensor<"int64">;
  mask: HostTensor<"float32">;
  /** Positions the mask counts (completion tokens). */
  tokens: number;
  batchSize: number;
  sequenceLength: number;
}

export function rollout(prompts: readonly (readonly number[])[], completions: readonly (readonly number[])[], padTokenId: number): Rollout {
  if (prompts.length === 0 || prompts.length !== completions.length) throw new RangeError(`expected one completion per prompt (${prompts.length}), got ${completions.length}`);
  const rows = prompts.map((prompt, i) => {
    const completion = completions[i]!;
    if (prompt.length === 0 || completion.length === 0) throw new RangeError(`row ${i}: a prompt and a completion need at least one token each`);
    return [...prompt, ...completion];
  });
  const B = rows.length;
  const T = Math.max(...rows.map((row) => row.length - 1));
  const ids = new Array<number>(B * T).fill(padTokenId);
  const actions = new Array<number>(B * T).fill(padTokenId);
  const mask = new Float32Array(B * T);
  let tokens = 0;
  rows.forEach((row, r) => {
    const first = prompts[r]!.length - 1;
    for (let t = 0; t < row.length - 1; t++) {
      ids[r * T + t] = row[t]!;
      actions[r * T + t] = row[t + 1]!;
      if (t >= first) {
        mask[r * T + t] = 1;
        tokens++;
      }
    }
  });
  return { ids: HostTensor.int64([B, T], ids), actions: HostTensor.int64([B, T], actions), mask: HostTensor.float32([B, T], mask), tokens, batchSize: B, sequenceLength: T };
}

/** The batch of policyGradient: each row's advantage on its completion positions, and the reference log-probs [B, T]. */
export function policyGradientBatch(rolled: Rollout, rowAdvantages: readonly number[], refLogprobs: Float32Array): TrainBatch {
  const { batchSize: B, sequenceLength: T } = rolled;
  if (rowAdvantages.length !== B) throw new RangeError(`${rowAdvantages.length} advantages for ${B} rows`);
  if (refLogprobs.length !== B * T) throw new RangeError(`${refLogprobs.length} reference log-probs for ${B} x ${T} positions`);
  const advantages = new Float32Array(B * T);
  for (let p = 0; p < B * T; p++) advantages[p] = rolled.mask.data[p]! * rowAdvantages[Math.floor(p / T)]!;
  return {
    ids: rolled.ids,
    actions: rolled.actions,
    mask: rolled.mask,
    advantages: HostTensor.float32([B, T], advantages),
    refLogprobs: HostTensor.float32([B, T], refLogprobs),
  };
}

/**
 * RLOO's advantages (Ahmadian et al., 2024): rewards laid out k samples per prompt, each sample's
 * reward minus the mean of the other k - 1 samples of its prompt, an unbiased baseline that needs
 * no value model.
 */
export function rlooAdvantages(rewards: readonly number[], k: number): number[] {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`RLOO needs at least 2 samples per prompt, got ${k}`);
  if (rewards.length % k !== 0) throw new RangeError(`${rewards.length} rewards are not groups of ${k}`);
  return rewards.map((reward, i) => {
    const group = rewards.slice(i - (i % k), i - (i % k) + k);
    const others = (group.reduce((sum, value) => sum + value, 0) - reward) / (k - 1);
    return reward - others;
  });
}

/** log softmax(logits)[action] at every position of a rollout, from logits [B, T, V]. */
export function actionLogprobs(logits: HostTensor<"float32">, actions: HostTensor<"int64">): Float32Array {
  const [B, T, V] = logits.shape as [number, number, number];
  const out = new Float32Array(B * T);
  for (let p = 0; p < B * T; p++) {
    const row = logits.data.subarray(p * V, (p + 1) * V);
    let max = Number.NEGATIVE_INFINITY;
    for (let v = 0; v < V; v++) if (row[v]! > max) max = row[v]!;
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(row[v]! - max);
    out[p] = row[Number(actions.data[p])]! - max - Math.log(sum);
  }
  return out;
}
