// The building blocks of Gemma 2 as IR: linear (PyTorch [out, in] weights), RMSNorm with the
// (1 + w) scale, soft-capping, tanh-approximated GELU. Each follows Hugging Face's
// modeling_gemma2.py; see docs/gemma2.md section 1 for the facts.
import type { SymbolicTensor } from "../graph/builder.js";
import { isLora } from "./lora.js";
import { isQuantized, type Weight } from "./quantized.js";

/** x [..., in] times a PyTorch Linear weight [out, in] (float, block-quantized, or with LoRA) -> [..., out]. */
export function linear(x: SymbolicTensor, weight: Weight): SymbolicTensor {
  if (isLora(weight)) return linear(x, weight.base).add(linear(linear(x, weight.loraA), weight.loraB).mul(weight.scale));
  if (isQuantized(weight)) return x.builder.matmulNBits(x, weight.blocks, weight.scales, weight.bits);
  return x.matmul(weight.transpose([1, 0]));
}

/**
 * Gemma's RMSNorm: x / sqrt(mean(x^2) + eps) * (1 + w), in float32. The weight is stored as an
 * offset from 1 (zero-initialised), unlike Llama's. x [..., d], weight [d] -> [..., d].
 */
export function rmsNorm(x: SymbolicTensor, weight: SymbolicTensor, eps: number): SymbolicTensor {
  const inverseRms = x.mul(x).mean(-1, true).add(eps).rsqrt();
  return x.mul(inverseRms).mul(weight.add(1));
}

/** cap * tanh(x / cap): bounds logits smoothly to (-cap, cap). Shape unchanged. */
export function softCap(x: SymbolicTensor, cap: number | null): SymbolicTensor {
  return cap === null ? x : x.div(cap).tanh().mul(cap);
}

/** GELU with the tanh approximation (PyTorch's approximate="tanh", HF's gelu_pytorch_tanh). */
export function geluTanh(x: SymbolicTensor): SymbolicTensor {
  const cube = x.mul(x).mul(x);
  const inner = x.add(cube.mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(inner.tanh().add(1)).mul(0.5);
}
