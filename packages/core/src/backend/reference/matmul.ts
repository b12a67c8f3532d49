// Batched matrix product of the reference backend, numpy.matmul / ONNX MatMul semantics for
// operands of rank >= 2: the batch axes (all but the last two) broadcast, then each batch is an
// [M, K] x [K, N] product accumulated in float64, k ascending.
import { dequantizedValue, QUANT_BLOCK, type QuantBits } from "../../quant/blocks.js";
import { sizeOf, type Shape } from "../../tensor/host-tensor.js";
import { broadcastSource } from "./layout.js";
import type { Value } from "./value.js";

// [...batchA, M, K] x [...batchB, K, N] -> [...broadcast(batchA, batchB), M, N] = outShape
export function matmul(a: Value, b: Value, outShape: Shape): Float64Array {
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape[b.shape.length - 1]!;
  const batchShape = outShape.slice(0, -2);
  const batches = sizeOf(batchShape);
  // Which batch of each operand every output batch reads (broadcast batch axes repeat).
  const batchA = broadcastSource(a.shape.slice(0, -2), batchShape);
  const batchB = broadcastSource(b.shape.slice(0, -2), batchShape);
  const out = new Float64Array(batches * m * n);
  for (let batch = 0; batch < batches; batch++) {
    const aBase = (batchA ? batchA[batch]! : batch) * m * k;
    const bBase = (batchB ? batchB[batch]! : batch) * k * n;
    const outBase = batch * m * n;
    for (let row = 0; row < m; row++) {
      for (let column = 0; column < n; column++) {
        let sum = 0;
        for (let inner = 0; inner < k; inner++) sum += a.data[aBase + row * k + inner]! * b.data[bBase + inner * n + column]!;
        out[outBase + row * n + column] = sum;
      }
    }
  }
  return out;
}

// x [..., K] times the transpose of the quantized [N, K] matrix -> [..., N] = outShape. Every
// weight is dequantized exactly (code - zero point) * scale, then the products accumulate in float64.
export function matmulNBits(x: Value, blocks: Value, scales: Value, bits: QuantBits, outShape: Shape): Float64Array {
  const n = outShape[outShape.length - 1]!;
  const k = x.shape[x.shape.length - 1]!;
  const weights = new Float64Array(n * k);
  for (let i = 0; i < weights.length; i++) weights[i] = dequantizedValue(blocks.data, scales.data, bits, Math.floor(i / QUANT_BLOCK), i % QUANT_BLOCK);
  const rows = sizeOf(x.shape) / k;
  const out = new Float64Array(rows * n);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < n; column++) {
      let sum = 0;
      for (let inner = 0; inner < k; inner++) sum += x.data[row * k + inner]! * weights[column * k + inner]!;
      out[row * n + column] = sum;
    }
  }
  return out;
}
