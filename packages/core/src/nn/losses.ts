// Losses as IR, over the model's soft-capped logits (and, for reward models, its hidden states).
// Each reads only the entries it needs with takeAlong, so none materialises a [B, T, V] one-hot.
// Per-token losses are averaged over the positions a float mask counts (1 = trained on: response
// tokens in SFT, real tokens under padding), as TRL normalises by the number of unmasked tokens.
import type { SymbolicTensor } from "../graph/builder.js";
import { InvalidArgumentError } from "../errors.js";

/** log softmax(logits)[target] per position: logits [..., V], targets [...] int -> [...]. */
export function tokenLogprobs(logits: SymbolicTensor, targets: SymbolicTensor): SymbolicTensor {
  return takeEach(logits, targets).sub(logits.logSumExp(-1));
}

/** sum(values * mask) / max(sum(mask), 1): scalar []. Zero when nothing counts. */
export function maskedMean(values: SymbolicTensor, mask: SymbolicTensor): SymbolicTensor {
  return values.mul(mask).sum().div(mask.sum().maximum(1));
}

/**
 * Mean of -log softmax(logits)[target] over positions whose target is not `ignoreIndex`.
 * logits [..., V] float32, targets [...] int64 -> scalar []. Zero when every position is ignored.
 */
export function crossEntropy(logits: SymbolicTensor, targets: SymbolicTensor, ignoreIndex = -100): SymbolicTensor {
  const b = logits.builder;
  const counted = targets.equal(b.scalar(ignoreIndex, targets.dtype));
  // Ignored targets are not valid indices; read entry 0 there and mask it out.
  const safeTargets = b.where(counted, b.scalar(0, targets.dtype), targets);
  const mask = counted.cast("float32").neg().add(1);
  return maskedMean(tokenLogprobs(logits, safeTargets).neg(), mask);
}

/** Masked next-token cross-entropy: targets [...] int, mask [...] float -> scalar []. */
export function nextTokenLoss(logits: SymbolicTensor, targets: SymbolicTensor, mask: SymbolicTensor): SymbolicTensor {
  return maskedMean(tokenLogprobs(logits, targets).neg(), mask);
}

/**
 * How a sparse teacher distribution's missing mass 1 - sum(p) is treated:
 * - "tail": one extra category on each side, the teacher's missing mass against the student's mass
 *   outside the stored ids (TRL's loss_add_tail); with every id stored it is plain dense KD.
 * - "renormalize": the stored probabilities are rescaled to sum to 1 and the student keeps its
 *   full-vocabulary softmax (DistillKit's "zero" handling, Gemma 3's sampled-subset recipe).
 */
export type MissingMass = "tail" | "renormalize";

/** A teacher distribution stored sparsely: k ids per position and their probabilities. */
export interface SparseTeacher {
  /** int [..., k]; distinct within a position. */
  ids: SymbolicTensor;
  /** float [..., k]; sums to at most 1 within a position. */
  probs: SymbolicTensor;
}

/**
 * Knowledge distillation, forward KL up to the teacher's entropy (the Gemma 2 report's objective):
 * -sum_i p_i log q_i per position, averaged over the mask. logits [..., V], mask [...] -> [].
 */
export function sparseDistillationLoss(logits: SymbolicTensor, teacher: SparseTeacher, mask: SymbolicTensor, missing: MissingMass = "tail"): SymbolicTensor {
  const { student, teacherProbs, tail } = sparseSupport(logits, teacher, missing);
  let perToken = teacherProbs.mul(student.logProbs).sum(-1).neg();
  if (tail) perToken = perToken.sub(tail.teacher.mul(tail.studentLog));
  return maskedMean(perToken, mask);
}

/**
 * Distillation from the teacher's whole distribution: -sum_x softmax(teacherLogits)_x log q(x) per
 * position, averaged over the mask. The teacher's logits are data (an input, soft-capped by the
 * teacher, divided by any temperature beforehand), so no gradient reaches them.
 * logits, teacherLogits [..., V]; mask [...] -> [].
 */
export function denseDistillationLoss(logits: SymbolicTensor, teacherLogits: SymbolicTensor, mask: SymbolicTensor): SymbolicTensor {
  // -sum p (l - lse(l)) = lse(l) - sum p l, as sum p = 1: one [.., V] product instead of a log-softmax.
  const perToken = logits.logSumExp(-1).sub(teacherLogits.softmax(-1).mul(logits).sum(-1));
  return maskedMean(perToken, mask);
}

/**
 * Generalised Jensen-Shannon divergence JSD(beta) of GKD (Agarwal et al., 2024):
 * beta KL(P || M) + (1 - beta) KL(Q || M) with M = beta P + (1 - beta) Q, over the stored ids plus
 * the tail category; beta = 0 is forward KL(P || Q) and beta = 1 reverse KL(Q || P), the endpoints
 * where the mixture form vanishes (as TRL special-cases them). Averaged over the mask.
 */
export function generalizedJsdLoss(logits: SymbolicTensor, teacher: SparseTeacher, mask: SymbolicTensor, beta: number): SymbolicTensor {
  if (!(beta >= 0 && beta <= 1)) throw new InvalidArgumentError("beta", `expected a number in [0, 1], got ${beta}`);
  const b = logits.builder;
  const { student, teacherProbs, tail } = sparseSupport(logits, teacher, "tail");
  // The K stored categories and the tail as one [..., K + 1] distribution on each side.
  const p = b.concat([teacherProbs, tail!.teacher.reshape([...tail!.teacher.shape, 1])], -1);
  const logQ = b.concat([student.logProbs, tail!.studentLog.reshape([...tail!.studentLog.shape, 1])], -1);
  const q = logQ.exp();
  const safeLog = (x: SymbolicTensor) => x.maximum(1e-30).log();
  // x log(x / y), zero where x is zero (the limit), per category, summed.
  const kl = (x: SymbolicTensor, logX: SymbolicTensor, logY: SymbolicTensor) => b.where(x.greater(0), x.mul(logX.sub(logY)), b.scalar(0)).sum(-1);
  let perToken: SymbolicTensor;
  if (beta === 0) {
    perToken = kl(p, safeLog(p), logQ);
  } else if (beta === 1) {
    perToken = kl(q, logQ, safeLog(p));
  } else {
    const logM = safeLog(p.mul(beta).add(q.mul(1 - beta)));
    perToken = kl(p, safeLog(p), logM).mul(beta).add(kl(q, logQ, logM).mul(1 - beta));
  }
  return maskedMean(perToken, mask);
}

/**
 * A policy-gradient loss with a per-token KL penalty to a reference policy, on sampled tokens:
 * -A_t log pi(a_t) + klCoef * k3_t, where k3 = exp(r - l) - (r - l) - 1 with l = log pi(a_t) and
 * r = log pi_ref(a_t) is Schulman's non-negative, unbiased estimator of KL(pi || pi_ref) (as GRPO
 * uses it). Advantages and reference log-probs are data: no gradient flows into them.
 * logits [B, T, V]; actions, advantages, refLogprobs, mask [B, T] -> [].
 */
export function policyGradientLoss(
  logits: SymbolicTensor,
  inputs: { actions: SymbolicTensor; advantages: SymbolicTensor; refLogprobs: SymbolicTensor; mask: SymbolicTensor },
  klCoef: number,
): SymbolicTensor {
  const logprobs = tokenLogprobs(logits, inputs.actions);
  let perToken = inputs.advantages.mul(logprobs).neg();
  if (klCoef !== 0) {
    const delta = inputs.refLogprobs.sub(logprobs);
    perToken = perToken.add(delta.exp().sub(delta).sub(1).mul(klCoef));
  }
  return maskedMean(perToken, inputs.mask);
}

/**
 * Bradley-Terry preference loss on scalar rewards [B]: `pairs` [P, B] holds +1 at each pair's
 * chosen row and -1 at its rejected row, so pairs x rewards is each pair's margin
 * r_chosen - r_rejected -> mean of -log sigmoid(margin) = softplus(-margin).
 */
export function bradleyTerryLoss(rewards: SymbolicTensor, pairs: SymbolicTensor): SymbolicTensor {
  const margins = pairs.matmul(rewards.reshape([rewards.shape[0]!, 1]));
  // The pair count is symbolic: each row of `pairs` holds |+1| + |-1| = 2.
  const pairCount = pairs.abs().sum().mul(0.5).maximum(1);
  return softplus(margins.neg()).sum().div(pairCount);
}

/** log(1 + exp(x)), stable for large |x|. */
export function softplus(x: SymbolicTensor): SymbolicTensor {
  return x.maximum(0).add(x.abs().neg().exp().add(1).log());
}

/** values [..., V] at one index per position: indices [...] -> [...]. */
function takeEach(values: SymbolicTensor, indices: SymbolicTensor): SymbolicTensor {
  return values.takeAlong(indices.reshape([...indices.shape, 1])).reshape(indices.shape);
}

/** The student's log-probabilities at the teacher's ids, the teacher's target, and the tail category. */
function sparseSupport(logits: SymbolicTensor, teacher: SparseTeacher, missing: MissingMass) {
  const logProbs = logits.takeAlong(teacher.ids).sub(logits.logSumExp(-1, true));
  const covered = teacher.probs.sum(-1);
  if (missing === "renormalize") {
    return { student: { logProbs }, teacherProbs: teacher.probs.div(covered.maximum(1e-30).reshape([...covered.shape, 1])), tail: undefined };
  }
  // The student's mass outside the ids, clamped so a fully covered position (k = V) stays finite;
  // there the teacher's tail mass is 0 and the term vanishes.
  const studentTail = logProbs.exp().sum(-1).neg().add(1).maximum(1e-12);
  return {
    student: { logProbs },
    teacherProbs: teacher.probs,
    tail: { teacher: covered.neg().add(1).maximum(0), studentLog: studentTail.log() },
  };
}
