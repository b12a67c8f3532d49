// ggml's Q4_0 blocks: 32 values as one fp16 scale d = m / -8 (m the value of largest magnitude)
// and 32 codes q = min(15, trunc(x / d + 8.5)) worth (q - 8) * d, 18 bytes a block. Byte j of the
// 16 holds element j in its low nibble and element j + 16 in its high nibble. The rounding is
// quant/blocks.ts's (ggml's quantize_row_q4_0_ref step for step in float32); this file only moves
// nibbles between ggml's order and onnxruntime MatMulNBits' (byte k: elements 2k, 2k + 1), so our
// bytes equal llama-quantize's. unpackQ4_0Into puts ggml's blocks into a QuantizedMatrix as they
// are (codes and fp16 scales bit for bit), for a GGUF import that keeps the weights quantized.
import { emptyQuantizedMatrix, QUANT_BLOCK, quantizeBlocksInto, type QuantizedMatrix } from "../quant/blocks.js";
import { float16ToFloat32, float32ToFloat16 } from "../tensor/half.js";

export const Q4_0_BLOCK = 32;
export const Q4_0_BLOCK_BYTES = 18;

/** Quantises `values` (a whole number of blocks) into `out` (values.length / 32 * 18 bytes). */
export function quantizeQ4_0(values: Float32Array, out: Uint8Array): void {
  const matrix = emptyQuantizedMatrix(1, values.length, 4);
  quantizeBlocksInto(matrix, 0, values);
  packQ4_0(matrix, 0, values.length / Q4_0_BLOCK, out);
}

/** Blocks [first, first + count) of a 4-bit QuantizedMatrix as ggml Q4_0 blocks in `out`. */
export function packQ4_0(matrix: QuantizedMatrix, first: number, count: number, out: Uint8Array): void {
  const packed = matrix.blocks.data;
  const scales = matrix.scales.data;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < count; b++) {
    const source = (first + b) * 16;
    const at = b * Q4_0_BLOCK_BYTES;
    // The scale is already a float16 value: this conversion is exact (the sign of -0 included).
    view.setUint16(at, float32ToFloat16(scales[first + b]!), true);
    for (let j = 0; j < 16; j++) {
      // Element j sits in MatMulNBits byte j >> 1, element j + 16 in byte 8 + (j >> 1); odd elements in the high nibble.
      const shift = (j & 1) * 4;
      const low = (packed[source + (j >> 1)]! >> shift) & 15;
      const high = (packed[source + 8 + (j >> 1)]! >> shift) & 15;
      out[at + 2 + j] = low | (high << 4);
    }
  }
}

/** Dequantises `out.length` values (a whole number of blocks) from `bytes`: (q - 8) * fp16(d), as dequantize_row_q4_0. */
export function dequantizeQ4_0(bytes: Uint8Array, out: Float32Array): void {
  const blocks = out.length / Q4_0_BLOCK;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const at = b * Q4_0_BLOCK_BYTES;
    const d = float16ToFloat32(view.getUint16(at, true));
    const start = b * Q4_0_BLOCK;
    for (let j = 0; j < 16; j++) {
      const byte = bytes[at + 2 + j]!;
      out[start + j] = ((byte & 15) - 8) * d;
      out[start + j + 16] = ((byte >> 4) - 8) * d;
    }
  }
}

/**
 * Copies ggml Q4_0 blocks (`bytes`, whole blocks) into `matrix` from flat block `first` on, without
 * re-rounding: the fp16 scales and the codes carry over. A 4-bit matrix gets the nibbles re-paired;
 * an 8-bit one gets each code widened exactly (q - 8 + 128, same scale), for files mixing Q4_0 and Q8_0.
 */
export function unpackQ4_0Into(bytes: Uint8Array, matrix: QuantizedMatrix, first: number): void {
  const count = bytes.length / Q4_0_BLOCK_BYTES;
  const packed = matrix.blocks.data;
  const scales = matrix.scales.data;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < count; b++) {
    const at = b * Q4_0_BLOCK_BYTES;
    const block = first + b;
    scales[block] = float16ToFloat32(view.getUint16(at, true));
    if (matrix.bits === 4) {
      const target = block * 16;
      for (let k = 0; k < 8; k++) {
        // MatMulNBits byte k holds elements 2k (low) and 2k + 1 (high); both are low nibbles in ggml's bytes 2k, 2k + 1.
        packed[target + k] = (bytes[at + 2 + 2 * k]! & 15) | ((bytes[at + 3 + 2 * k]! & 15) << 4);
        packed[target + 8 + k] = (bytes[at + 2 + 2 * k]! >> 4) | (bytes[at + 3 + 2 * k]! & 0xf0);
      }
    } else {
      const target = block * QUANT_BLOCK;
      for (let j = 0; j < 16; j++) {
        const byte = bytes[at + 2 + j]!;
        packed[target + j] = (byte & 15) + 120;
        packed[target + j + 16] = (byte >> 4) + 120;
      }
    }
  }
}
