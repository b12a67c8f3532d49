// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_): if the L2 norm of all gradients
// together exceeds maxNorm, scale every gradient by maxNorm / norm. Returns the norm before clipping.
import type { HostTensor } from "../tensor/host-tensor.js";

export function clipGradNorm(grads: ReadonlyMap<string, HostTensor<"float32">>, maxNorm: number): number {
  let sumOfSquares = 0;
  for (const grad of grads.values()) {
    for (const value of grad.data) sumOfSquares += value * value;
  }
  const norm = Math.sqrt(sumOfSquares);
  if (norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const grad of grads.values()) {
      const data = grad.data;
      for (let i = 0; i < data.length; i++) data[i] = data[i]! * scale;
    }
  }
  return norm;
}
