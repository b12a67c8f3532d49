// What a training stage optimises, as data: the batch inputs its loss reads besides the token ids,
// any parameters it adds to the model (a reward model's value head), and the loss itself, written
// in the IR over the model's outputs. The trainer traces one graph per objective (forward, loss,
// gradients) that serves every batch size and sequence length; the stages of the recipe
// (pre-training, distillation, SFT, reward modelling, RLHF) differ only in the objective.
import type { SymbolicTensor } from "../graph/builder.js";
import type { Dims } from "../graph/dims.js";
import type { Gemma2ForwardOutputs } from "../models/gemma2/forward.js";
import {
  bradleyTerryLoss,
  denseDistillationLoss,
  generalizedJsdLoss,
  type MissingMass,
  nextTokenLoss,
  policyGradientLoss,
  sparseDistillationLoss,
  tokenLogprobs,
} from "../nn/losses.js";
import { InvalidArgumentError } from "../errors.js";
import type { DType } from "../tensor/dtype.js";
import { HostTensor } from "../tensor/host-tensor.js";

/** Dims may name "batch" and "seq", the rows and positions of the ids. */
export interface BatchInputSpec {
  name: string;
  dtype: DType;
  dims: Dims;
  /**
   * What an integer input indexes, so the trainer can refuse an out-of-range value before the
   * backend reads out of bounds: token ids, or positions within a row.
   */
  indexes?: "vocabulary" | "positions";
}

export interface ExtraParameterSpec {
  name: string;
  shape: readonly number[];
  /** Standard deviation of the normal initialisation (0: zeros). */
  initStd: number;
}

export interface Objective {
  readonly name: string;
  readonly inputs: readonly BatchInputSpec[];
  readonly extraParams?: readonly ExtraParameterSpec[];
  loss(outputs: Gemma2ForwardOutputs, inputs: Readonly<Record<string, SymbolicTensor>>, param: (name: string) => SymbolicTensor): SymbolicTensor;
  /** Values an evaluation reports besides the loss (a reward model's rewards, per-token log-probs). */
  report?(outputs: Gemma2ForwardOutputs, inputs: Readonly<Record<string, SymbolicTensor>>, param: (name: string) => SymbolicTensor): Record<string, SymbolicTensor>;
}

const tokens = (name: string, dtype: DType = "float32"): BatchInputSpec => ({ name, dtype, dims: ["batch", "seq"] });
const tokenIds = (name: string): BatchInputSpec => ({ name, dtype: "int64", dims: ["batch", "seq"], indexes: "vocabulary" });
const teacherInputs = (k: number): BatchInputSpec[] => [
  { name: "teacher.ids", dtype: "int64", dims: ["batch", "seq", k], indexes: "vocabulary" },
  { name: "teacher.probs", dtype: "float32", dims: ["batch", "seq", k] },
  tokens("mask"),
];

/** Next-token prediction: `targets` int64 [B, T] (the ids shifted by one) and a float `mask` [B, T]. */
export function languageModeling(): Objective {
  return {
    name: "language-modeling",
    inputs: [tokenIds("targets"), tokens("mask")],
    loss: ({ logits }, x) => nextTokenLoss(logits, x.targets!, x.mask!),
    report: ({ logits }, x) => ({ logprobs: tokenLogprobs(logits, x.targets!) }),
  };
}

/**
 * Offline distillation from stored sparse teacher distributions: `teacher.ids` int64 [B, T, k] and
 * `teacher.probs` [B, T, k] per position, plus a `mask` [B, T].
 */
export function sparseDistillation(k: number, missing: MissingMass = "tail"): Objective {
  return {
    name: `distillation-k${k}-${missing}`,
    inputs: teacherInputs(k),
    loss: ({ logits }, x) => sparseDistillationLoss(logits, { ids: x["teacher.ids"]!, probs: x["teacher.probs"]! }, x.mask!, missing),
  };
}

/**
 * Distillation mixed with the next-token loss on the data's own labels: a KD + (1 - a) CE, as
 * DistillKit and the pre-training distillation study do (with a sparse store, the hard labels
 * carry what the stored ids miss). Inputs: those of languageModeling and of sparseDistillation.
 */
export function distillationWithLabels(k: number, kdWeight: number, missing: MissingMass = "tail"): Objective {
  if (!(kdWeight >= 0 && kdWeight <= 1)) throw new InvalidArgumentError("kdWeight", `expected a number in [0, 1], got ${kdWeight}`);
  return {
    name: `distillation-k${k}-${missing}-kd${kdWeight}`,
    inputs: [tokenIds("targets"), ...teacherInputs(k)],
    loss: ({ logits }, x) => {
      const teacher = { ids: x["teacher.ids"]!, probs: x["teacher.probs"]! };
      const kd = sparseDistillationLoss(logits, teacher, x.mask!, missing);
      return kdWeight === 1 ? kd : kd.mul(kdWeight).add(nextTokenLoss(logits, x.targets!, x.mask!).mul(1 - kdWeight));
    },
    report: ({ logits }, x) => ({ logprobs: tokenLogprobs(logits, x.targets!) }),
  };
}

/**
 * Online distillation from a teacher run beside the student, on its whole distribution: the
 * teacher's soft-capped logits `teacher.logits` [B, T, V] per position, a KD + (1 - a) CE on the
 * data's `targets` as distillationWithLabels. What a sparse store approximates, where the teacher's
 * forward pass per step is affordable.
 */
export function denseDistillationWithLabels(vocabSize: number, kdWeight: number): Objective {
  if (!(kdWeight >= 0 && kdWeight <= 1)) throw new InvalidArgumentError("kdWeight", `expected a number in [0, 1], got ${kdWeight}`);
  return {
    name: `distillation-dense-kd${kdWeight}`,
    inputs: [tokenIds("targets"), { name: "teacher.logits", dtype: "float32", dims: ["batch", "seq", vocabSize] }, tokens("mask")],
    loss: ({ logits }, x) => {
      const kd = denseDistillationLoss(logits, x["teacher.logits"]!, x.mask!);
      return kdWeight === 1 ? kd : kd.mul(kdWeight).add(nextTokenLoss(logits, x.targets!, x.mask!).mul(1 - kdWeight));
    },
    report: ({ logits }, x) => ({ logprobs: tokenLogprobs(logits, x.targets!) }),
  };
}

/** On-policy distillation (GKD): JSD(beta) against the teacher's sparse scores of the student's own samples. */
export function onPolicyDistillation(k: number, beta: number): Objective {
  return {
    name: `gkd-k${k}-beta${beta}`,
    inputs: teacherInputs(k),
    loss: ({ logits }, x) => generalizedJsdLoss(logits, { ids: x["teacher.ids"]!, probs: x["teacher.probs"]! }, x.mask!, beta),
  };
}

/** The value head of a reward model: one scalar per position from the final hidden state. */
export const VALUE_HEAD = "score.weight";

/**
 * A reward model trained on preference pairs: `lastIndex` int64 [B] is each row's last real
 * token, whose value-head output is the row's reward; `pairs` [P, B] marks each pair's chosen row
 * +1 and rejected row -1 (preferencePairs builds it for rows laid out chosen, rejected, ...).
 */
export function rewardModeling(hiddenSize: number): Objective {
  return {
    name: "reward-modeling",
    inputs: [
      { name: "lastIndex", dtype: "int64", dims: ["batch"], indexes: "positions" },
      { name: "pairs", dtype: "float32", dims: ["pairs", "batch"] },
    ],
    extraParams: [{ name: VALUE_HEAD, shape: [1, hiddenSize], initStd: 1 / Math.sqrt(hiddenSize) }],
    loss: ({ hidden }, x, param) => bradleyTerryLoss(rewards(hidden, param(VALUE_HEAD), x.lastIndex!), x.pairs!),
    report: ({ hidden }, x, param) => ({ rewards: rewards(hidden, param(VALUE_HEAD), x.lastIndex!) }),
  };
}

/** `pairs` for rows laid out (chosen, rejected) pair after pair: [B / 2, B]. */
export function preferencePairs(rows: number): HostTensor<"float32"> {
  if (!Number.isInteger(rows) || rows < 2 || rows % 2 !== 0) throw new InvalidArgumentError("rows", `expected an even number of rows, got ${rows}`);
  const pairs = HostTensor.float32([rows / 2, rows]);
  for (let p = 0; p < rows / 2; p++) {
    pairs.data[p * rows + 2 * p] = 1;
    pairs.data[p * rows + 2 * p + 1] = -1;
  }
  return pairs;
}

/** Rewards [B] of a value head [1, D] over hidden states [B, T, D] at each row's `lastIndex` [B]. */
export function rewards(hidden: SymbolicTensor, head: SymbolicTensor, lastIndex: SymbolicTensor): SymbolicTensor {
  const [B, T] = hidden.shape;
  const perPosition = hidden.matmul(head.transpose([1, 0])).reshape([B!, T!]);
  return perPosition.takeAlong(lastIndex.reshape([B!, 1])).reshape([B!]);
}

/**
 * RLHF's policy update on sampled completions: `actions` int64 [B, T] (the sampled next tokens),
 * `advantages`, `refLogprobs` (the reference policy's log-probs of the actions) and `mask` [B, T].
 */
export function policyGradient(klCoef: number): Objective {
  return {
    name: `policy-gradient-kl${klCoef}`,
    inputs: [tokenIds("actions"), tokens("advantages"), tokens("refLogprobs"), tokens("mask")],
    loss: ({ logits }, x) => policyGradientLoss(logits, { actions: x.actions!, advantages: x.advantages!, refLogprobs: x.refLogprobs!, mask: x.mask! }, klCoef),
    report: ({ logits }, x) => ({ logprobs: tokenLogprobs(logits, x.actions!) }),
  };
}
