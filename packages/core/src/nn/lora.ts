// LoRA (Hu et al., 2021) as a kind of weight: a frozen base matrix W [out, in] plus a trainable
// low-rank update B A (B [out, r], A [r, in]) scaled by alpha / r, as Hugging Face PEFT defines it.
// The update is applied to the activations, x W^T + scale (x A^T) B^T, never as a merged
// [out, in] matrix: a training step then costs O(r (in + out)) per token more, not a weight-sized
// product and its gradient.
import type { SymbolicTensor } from "../graph/builder.js";
import type { QuantizedWeight } from "./quantized.js";

export interface LoraWeight {
  readonly base: SymbolicTensor | QuantizedWeight;
  /** [r, in] */
  readonly loraA: SymbolicTensor;
  /** [out, r] */
  readonly loraB: SymbolicTensor;
  /** alpha / r */
  readonly scale: number;
}

export function isLora(weight: object): weight is LoraWeight {
  return "loraA" in weight;
}
