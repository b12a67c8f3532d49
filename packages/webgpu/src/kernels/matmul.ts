// Batched matrix product, numpy semantics: [...batch, M, K] x [...batch, K, N] -> [...batch, M, N],
// the batch axes broadcast (stride 0). Tiled: a 16 x 16 workgroup computes a 16 x 16 output tile,
// staging 16-wide slabs of both operands in workgroup memory, one output per thread.
//   out[b, m, n] = sum_k a[b, m, k] b[b, k, n]
import type { CommandRecorder } from "../command-recorder.js";
import type { Kernel } from "../kernel.js";

const TILE = 16;
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
  const source = `@group(0) @binding(0) var<storage, read> info: array<u32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<workgroup> tile_a: array<f32, ${TILE * TILE}>;
var<workgroup> tile_b: array<f32, ${TILE * TILE}>;
@compute @workgroup_size(${TILE}, ${TILE})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m = info[0];
  let k = info[1];
  let n = info[2];
  var pa = info[3];
  var pb = info[4];
  let po = info[5] + wid.z * m * n;
  var rest = wid.z;
${walk.join("\n")}
  let row = wid.y * ${TILE}u + lid.y;
  let column = wid.x * ${TILE}u + lid.x;
  var sum = 0.0;
  for (var k0 = 0u; k0 < k; k0 += ${TILE}u) {
    let ka = k0 + lid.x;
    let kb = k0 + lid.y;
    tile_a[lid.y * ${TILE}u + lid.x] = select(0.0, a[pa + min(row, m - 1u) * k + min(ka, k - 1u)], row < m && ka < k);
    tile_b[lid.y * ${TILE}u + lid.x] = select(0.0, b[pb + min(kb, k - 1u) * n + min(column, n - 1u)], kb < k && column < n);
    workgroupBarrier();
    for (var t = 0u; t < ${TILE}u; t++) {
      sum = fma(tile_a[lid.y * ${TILE}u + t], tile_b[t * ${TILE}u + lid.x], sum);
    }
    workgroupBarrier();
  }
  if (row < m && column < n) { out[po + row * n + column] = sum; }
}
`;
  kernel = { key: `matmul/${batchRank}`, wgsl: () => source };
  kernels.set(batchRank, kernel);
  return kernel;
}

export function matmul(recorder: CommandRecorder, l: MatmulLaunch): void {
  const batches = l.batchShape.reduce((n, d) => n * d, 1);
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
