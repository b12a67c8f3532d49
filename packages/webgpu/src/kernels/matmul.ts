// Batched matrix product, numpy semantics: [...batch, M, K] x [...batch, K, N] -> [...batch, M, N],
// the batch axes broadcast (stride 0). Tiled: a workgroup of 16 x 16 threads computes a 64 x 64
// output tile, staging 16-wide slabs of both operands in workgroup memory, 4 x 4 outputs a thread.
//   out[b, m, n] = sum_k a[b, m, k] b[b, k, n]
import { sizeOf } from "@gemma-ts/core";
import type { CommandRecorder } from "../command-recorder.js";
import type { Kernel } from "../kernel.js";

/** Output tile edge (rows and columns of a workgroup) and the K slab width. */
const TILE = 64;
const KS = 16;
const MAX_BATCHES = 65535;

export interface MatmulLaunch {
  readonly a: GPUBuffer;
  readonly aOffset: number;
  readonly b: GPUBuffer;
  readonly bOffset: number;
  readonly out: GPUBuffer;
  readonly outOffset: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /** The output's batch axes, and each operand's strides over them (0 where it broadcasts). */
  readonly batchShape: readonly number[];
  readonly aBatchStrides: readonly number[];
  readonly bBatchStrides: readonly number[];
}

const kernels = new Map<number, Kernel>();

// meta: M, K, N, aOffset, bOffset, outOffset, batchRank x (size, aStride, bStride)
function matmulKernel(batchRank: number): Kernel {
  let kernel = kernels.get(batchRank);
  if (kernel) return kernel;
  const walk: string[] = [];
  for (let axis = batchRank - 1; axis >= 0; axis--) {
    const at = 6 + 3 * axis;
    walk.push(`  { let size = info[${at}]; let index = rest % size; rest = rest / size; pa += index * info[${at + 1}]; pb += index * info[${at + 2}]; }`);
  }
  // Workgroups of 16 x 16 threads own a 64 x 64 output tile; each thread accumulates a 4 x 4
  // block in registers, reading 4 values of each operand from workgroup memory per k step (a
  // quarter of the loads of one output a thread). Slabs of K are 16 wide.
  const loadA = [0, 1, 2, 3].map((i) => `    { let e = lid_index + ${i * 256}u; let r = row0 + e / ${KS}u; let c = k0 + e % ${KS}u;
      tile_a[e] = select(0.0, a[pa + min(r, m - 1u) * k + min(c, k - 1u)], r < m && c < k); }`);
  const loadB = [0, 1, 2, 3].map((i) => `    { let e = lid_index + ${i * 256}u; let r = k0 + e / ${TILE}u; let c = col0 + e % ${TILE}u;
      tile_b[e] = select(0.0, b[pb + min(r, k - 1u) * n + min(c, n - 1u)], r < k && c < n); }`);
  const source = `@group(0) @binding(0) var<storage, read> info: array<u32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<workgroup> tile_a: array<f32, ${TILE * KS}>;
var<workgroup> tile_b: array<f32, ${KS * TILE}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) lid_index: u32) {
  let m = info[0];
  let k = info[1];
  let n = info[2];
  var pa = info[3];
  var pb = info[4];
  let po = info[5] + wid.z * m * n;
  var rest = wid.z;
${walk.join("\n")}
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  var sum: array<f32, 16>;
  for (var k0 = 0u; k0 < k; k0 += ${KS}u) {
${loadA.join("\n")}
${loadB.join("\n")}
    workgroupBarrier();
    for (var t = 0u; t < ${KS}u; t++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        av[i] = tile_a[(lid.y * 4u + i) * ${KS}u + t];
        bv[i] = tile_b[t * ${TILE}u + lid.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          sum[i * 4u + j] = fma(av[i], bv[j], sum[i * 4u + j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let column = col0 + lid.x * 4u + j;
      if (row < m && column < n) { out[po + row * n + column] = sum[i * 4u + j]; }
    }
  }
}
`;
  kernel = { key: `matmul/${batchRank}`, wgsl: () => source };
  kernels.set(batchRank, kernel);
  return kernel;
}

export function matmul(recorder: CommandRecorder, l: MatmulLaunch): void {
  const batches = sizeOf(l.batchShape);
  if (batches === 0 || l.m === 0 || l.n === 0) return;
  if (batches > MAX_BATCHES) throw new RangeError(`matmul over ${batches} batches: at most ${MAX_BATCHES} per launch`);
  const meta = [l.m, l.k, l.n, l.aOffset, l.bOffset, l.outOffset];
  l.batchShape.forEach((size, axis) => meta.push(size, l.aBatchStrides[axis]!, l.bBatchStrides[axis]!));
  recorder.launch({
    kernel: matmulKernel(l.batchShape.length),
    buffers: [l.a, l.b, l.out],
    meta,
    workgroups: [Math.ceil(l.n / TILE), Math.ceil(l.m / TILE), batches],
  });
}
