// Losses as IR. Cross-entropy over the vocabulary with an ignore index (the positions a loss
// does not train on: padding, prompt tokens in SFT), averaged over the positions that count.
import type { SymbolicTensor } from "../graph/builder.js";
import { ShapeMismatchError } from "../errors.js";
import { HostTensor } from "../tensor/host-tensor.js";

/**
 * Mean of -log softmax(logits)[target] over positions whose target is not `ignoreIndex`.
 * logits [..., V] float32, targets [...] int64 -> scalar []. Zero when every position is ignored.
 */
export function crossEntropy(logits: SymbolicTensor, targets: SymbolicTensor, ignoreIndex = -100): SymbolicTensor {
  const b = logits.builder;
  const V = logits.shape[logits.rank - 1]!;
  if (typeof V !== "number") throw new ShapeMismatchError("crossEntropy", `the vocabulary axis must be static, got ${V}`);
  const vocabulary = b.constant(HostTensor.int64([V], Array.from({ length: V }, (_, i) => i)));
  const expandedTargets = targets.reshape([...targets.shape, 1]);
  // The target's logit, picked with a one-hot mask: gather only indexes a table's first axis.
  const targetLogit = b.where(expandedTargets.equal(vocabulary), logits, b.scalar(0)).sum(-1);
  const negativeLogLikelihood = logits.logSumExp(-1).sub(targetLogit);
  const counted = targets.equal(b.scalar(ignoreIndex, "int64")).cast("float32").neg().add(1);
  const total = negativeLogLikelihood.mul(counted).sum();
  return total.div(counted.sum().maximum(1));
}
