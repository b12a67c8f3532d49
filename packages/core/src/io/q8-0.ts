// ggml's Q8_0 blocks: 32 values as one fp16 scale d = max|x| / 127 and 32 int8 q = round(x / d),
// 34 bytes a block. Quantisation follows ggml's quantize_row_q8_0_ref step for step in float32
// (d, then 1/d, then x * (1/d), rounded half away from zero like roundf) so our bytes equal
// llama-quantize's; dequantisation is dequantize_row_q8_0 (q * fp16(d)). unpackQ8_0Into puts the
// blocks into a QuantizedMatrix as they are, for a GGUF import that keeps the weights quantized.
import { QUANT_BLOCK, type QuantizedMatrix } from "../quant/blocks.js";
import { float16ToFloat32, float32ToFloat16 } from "../tensor/half.js";

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

const fround = Math.fround;

/** Quantises `values` (a whole number of blocks) into `out` (values.length / 32 * 34 bytes). */
export function quantizeQ8_0(values: Float32Array, out: Uint8Array): void {
  const blocks = values.length / Q8_0_BLOCK;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < blocks; b++) {
    const start = b * Q8_0_BLOCK;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(values[start + j]!));
    const d = fround(amax / 127);
    const inverse = d === 0 ? 0 : fround(1 / d);
    const at = b * Q8_0_BLOCK_BYTES;
    view.setUint16(at, float32ToFloat16(d), true);
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const scaled = fround(values[start + j]! * inverse);
      // roundf rounds halves away from zero; Math.round would send -2.5 to -2.
      view.setInt8(at + 2 + j, Math.sign(scaled) * Math.round(Math.abs(scaled)));
    }
  }
}

/** Dequantises `out.length` values (a whole number of blocks) from `bytes`. */
export function dequantizeQ8_0(bytes: Uint8Array, out: Float32Array): void {
  const blocks = out.length / Q8_0_BLOCK;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const at = b * Q8_0_BLOCK_BYTES;
    const d = float16ToFloat32(view.getUint16(at, true));
    const start = b * Q8_0_BLOCK;
    for (let j = 0; j < Q8_0_BLOCK; j++) out[start + j] = view.getInt8(at + 2 + j) * d;
  }
}

/**
 * Copies ggml Q8_0 blocks (`bytes`, whole blocks) into the 8-bit `matrix` from flat block `first`
 * on: the fp16 scales carry over and each int8 code q becomes the uint8 q + 128.
 */
export function unpackQ8_0Into(bytes: Uint8Array, matrix: QuantizedMatrix, first: number): void {
  const count = bytes.length / Q8_0_BLOCK_BYTES;
  const packed = matrix.blocks.data;
  const scales = matrix.scales.data;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < count; b++) {
    const at = b * Q8_0_BLOCK_BYTES;
    const block = first + b;
    scales[block] = float16ToFloat32(view.getUint16(at, true));
    const target = block * QUANT_BLOCK;
    for (let j = 0; j < QUANT_BLOCK; j++) packed[target + j] = (bytes[at + 2 + j]! + 128) & 0xff; // int8 two's complement + 128
  }
}
