// Weight-only block quantization, as llama.cpp's Q8_0 and Q4_0 define it: each run of 32 values
// along a row shares one scale (rounded to float16, as GGUF stores it); Q8_0 keeps round(x / d)
// with d = max|x| / 127, Q4_0 keeps trunc(x / d + 8.5) in [0, 15] with d = -m / 8, m the value of
// largest magnitude. The layout is onnxruntime's MatMulNBits one (rows of blocks; 4-bit pairs of
// consecutive values in a byte, low nibble first), so the blocks feed its kernels unchanged;
// GGUF's Q4_0 keeps x[j] and x[j + 16] in byte j instead, converted on import and export.
import { InvalidArgumentError } from "../errors.js";
import { float16ToFloat32, float32ToFloat16 } from "../tensor/half.js";
import { HostTensor } from "../tensor/host-tensor.js";

export type QuantBits = 4 | 8;
export type QuantType = "q8" | "q4";

/** Values per block (GGUF's QK8_0 and QK4_0). */
export const QUANT_BLOCK = 32;

export const QUANT_BITS: Readonly<Record<QuantType, QuantBits>> = { q8: 8, q4: 4 };

/** A [rows, cols] matrix in blocks of QUANT_BLOCK values along each row. */
export interface QuantizedMatrix {
  readonly bits: QuantBits;
  readonly rows: number;
  readonly cols: number;
  /** uint8 [rows, cols / 32, 32 * bits / 8], stored with a zero point of 2^(bits-1). */
  readonly blocks: HostTensor<"uint8">;
  /** float32 [rows * cols / 32], each exactly a float16 value. */
  readonly scales: HostTensor<"float32">;
}

export function quantizeMatrix(weight: HostTensor<"float32">, bits: QuantBits): QuantizedMatrix {
  if (weight.shape.length !== 2) throw new InvalidArgumentError("weight", `quantizes matrices, got shape [${weight.shape.join(", ")}]`);
  const [rows, cols] = weight.shape as [number, number];
  const matrix = emptyQuantizedMatrix(rows, cols, bits);
  quantizeBlocksInto(matrix, 0, weight.data);
  return matrix;
}

/** A zeroed quantized [rows, cols] matrix, to fill block by block with quantizeBlocksInto. */
export function emptyQuantizedMatrix(rows: number, cols: number, bits: QuantBits): QuantizedMatrix {
  if (cols % QUANT_BLOCK !== 0) throw new InvalidArgumentError("weight", `${cols} columns are not a multiple of the block size ${QUANT_BLOCK}`);
  const blockCount = (rows * cols) / QUANT_BLOCK;
  const blobBytes = (QUANT_BLOCK * bits) / 8;
  return {
    bits,
    rows,
    cols,
    blocks: new HostTensor("uint8", [rows, cols / QUANT_BLOCK, blobBytes], new Uint8Array(blockCount * blobBytes)),
    scales: new HostTensor("float32", [blockCount], new Float32Array(blockCount)),
  };
}

/**
 * Quantizes `values` (a whole number of blocks, row-major) into `matrix` from flat block
 * `firstBlock` on, so a large matrix can be filled from a stream of chunks.
 */
export function quantizeBlocksInto(matrix: QuantizedMatrix, firstBlock: number, values: Float32Array): void {
  const { bits } = matrix;
  const blobBytes = (QUANT_BLOCK * bits) / 8;
  const packed = matrix.blocks.data;
  const scales = matrix.scales.data;
  // Products are stored into a Float32Array, which rounds them to float32 as ggml's C does.
  const scaled = new Float32Array(QUANT_BLOCK);
  const step = new Float32Array(2);
  for (let local = 0; local < values.length / QUANT_BLOCK; local++) {
    const block = firstBlock + local;
    const start = local * QUANT_BLOCK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QUANT_BLOCK; j++) {
      const v = values[start + j]!;
      const magnitude = v < 0 ? -v : v;
      if (magnitude > amax) {
        amax = magnitude;
        max = v;
      }
    }
    const out = block * blobBytes;
    // step[0] = d, step[1] = 1 / d, both rounded to float32.
    step[0] = bits === 8 ? amax / 127 : max / -8;
    step[1] = step[0] ? 1 / step[0] : 0;
    const inverse = step[1]!;
    for (let j = 0; j < QUANT_BLOCK; j++) scaled[j] = values[start + j]! * inverse;
    if (bits === 8) {
      // roundf: halves away from zero (|v| <= 127, so v + 0.5 is exact).
      for (let j = 0; j < QUANT_BLOCK; j++) {
        const v = scaled[j]!;
        packed[out + j] = (v >= 0 ? Math.floor(v + 0.5) : -Math.floor(0.5 - v)) + 128;
      }
    } else {
      for (let j = 0; j < QUANT_BLOCK; j++) scaled[j] = scaled[j]! + 8.5; // rounded to float32, as in C
      for (let j = 0; j < QUANT_BLOCK; j += 2) {
        const low = Math.min(15, Math.trunc(scaled[j]!));
        const high = Math.min(15, Math.trunc(scaled[j + 1]!));
        packed[out + j / 2] = low | (high << 4);
      }
    }
    scales[block] = float16ToFloat32(float32ToFloat16(step[0]!));
  }
}

/** The value of element `index` of block `block` (both flat), as the kernels compute it. */
export function dequantizedValue(blocks: ArrayLike<number>, scales: ArrayLike<number>, bits: QuantBits, block: number, index: number): number {
  const blobBytes = (QUANT_BLOCK * bits) / 8;
  const base = block * blobBytes;
  const q = bits === 8 ? blocks[base + index]! - 128 : ((index & 1 ? blocks[base + (index >> 1)]! >> 4 : blocks[base + (index >> 1)]! & 15) - 8);
  return q * scales[block]!;
}

export function dequantizeMatrix(matrix: QuantizedMatrix): HostTensor<"float32"> {
  const out = new Float32Array(matrix.rows * matrix.cols);
  const blocks = matrix.blocks.data;
  const scales = matrix.scales.data;
  for (let i = 0; i < out.length; i++) out[i] = dequantizedValue(blocks, scales, matrix.bits, Math.floor(i / QUANT_BLOCK), i % QUANT_BLOCK);
  return new HostTensor("float32", [matrix.rows, matrix.cols], out);
}

/** Bytes the matrix takes in memory (blocks and float32 scales). */
export function quantizedBytes(matrix: QuantizedMatrix): number {
  return matrix.blocks.data.byteLength + matrix.scales.data.byteLength;
}
