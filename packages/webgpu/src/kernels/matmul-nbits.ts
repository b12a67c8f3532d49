// x [rows, K] times the transpose of a block-quantized [N, K] matrix (the IR's matmulNBits,
// onnxruntime's MatMulNBits): each weight is dequantized where it is read, in blocks of 32 with one
// float32 scale each, llama.cpp's Q8_0 (code - 128) and Q4_0 (nibble - 8, low nibble first).
// The blocks are bytes packed four to a u32. One thread per output.
//   out[r, j] = sum_k x[r, k] * (code(j, k) - zero) * scale[(j K + k) / 32]
import type { CommandRecorder } from "../command-recorder.js";
import { itemKernel, type Kernel, storageBindings, workgroupsFor } from "../kernel.js";

export interface MatmulNBitsLaunch {
  readonly x: GPUBuffer;
  readonly xOffset: number;
  readonly blocks: GPUBuffer;
  /** In bytes. */
  readonly blocksOffset: number;
  readonly scales: GPUBuffer;
  readonly scalesOffset: number;
  readonly out: GPUBuffer;
  readonly outOffset: number;
  readonly rows: number;
  readonly k: number;
  readonly n: number;
  readonly bits: 4 | 8;
  readonly blockSize: number;
}

const kernels = new Map<string, Kernel>();

function nbitsKernel(bits: 4 | 8, blockSize: number): Kernel {
  const key = `matmulNBits/${bits}/${blockSize}`;
  let kernel = kernels.get(key);
  if (kernel) return kernel;
  const code =
    bits === 8
      ? "f32(byte_at(base + index)) - 128.0"
      : "f32(select(byte_at(base + index / 2u) & 15u, byte_at(base + index / 2u) >> 4u, (index & 1u) == 1u)) - 8.0";
  const body = `  let k = info[2];
  let n = info[3];
  let row = i / n;
  let column = i % n;
  var sum = 0.0;
  for (var inner = 0u; inner < k; inner++) {
    let element = column * k + inner;
    let block = element / ${blockSize}u;
    let index = element % ${blockSize}u;
    let base = info[5] + block * ${(blockSize * bits) / 8}u;
    sum += x[info[4] + row * k + inner] * (${code}) * scales[info[6] + block];
  }
  out[info[1] + i] = sum;`;
  const declarations = `${storageBindings([
    ["x", "f32", "read"],
    ["blocks", "u32", "read"],
    ["scales", "f32", "read"],
    ["out", "f32", "read_write"],
  ])}
fn byte_at(offset: u32) -> u32 { return (blocks[offset / 4u] >> ((offset % 4u) * 8u)) & 255u; }`;
  kernel = { key, wgsl: () => itemKernel(declarations, body) };
  kernels.set(key, kernel);
  return kernel;
}

// meta: count, outOffset, K, N, xOffset, blocksOffset (bytes), scalesOffset
export function matmulNBits(recorder: CommandRecorder, l: MatmulNBitsLaunch): void {
  const count = l.rows * l.n;
  recorder.launch({
    kernel: nbitsKernel(l.bits, l.blockSize),
    buffers: [l.x, l.blocks, l.scales, l.out],
    meta: [count, l.outOffset, l.k, l.n, l.xOffset, l.blocksOffset, l.scalesOffset],
    workgroups: workgroupsFor(count),
  });
}
