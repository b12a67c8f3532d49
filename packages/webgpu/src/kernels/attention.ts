// Attention in one kernel: for each row (batch..., t) of the scores, stream over the keys s with
// an online softmax (the running maximum m and sum l rescale what was accumulated when m grows,
// as flash attention does), so the [..., T, S] scores and probabilities are never stored:
//   v_s = prologue(q_t . k_s, other leaves at (t, s))        (scale, soft-cap, mask)
//   out_t = sum_s exp(v_s - m) value_s / sum_s exp(v_s - m)
// One thread a row, the row's N outputs accumulated in registers (N <= ATTENTION_MAX_WIDTH).
// Queries [..., T, D], keys transposed [..., D, S] and values [..., S, N] are contiguous; their
// batch axes broadcast. Each dot product runs k ascending, as the matmul kernel's does.
import { sizeOf } from "@gemma-ts/core";
import type { CommandRecorder } from "../command-recorder.js";
import { ATTENTION_MAX_WIDTH } from "../fusion.js";
import { type Kernel, storageBindings, workgroupsFor } from "../kernel.js";
import { mathFor } from "./math.wgsl.js";
import { operandName, type StridedOperand } from "./strided-map.js";

export interface AttentionLaunch {
  readonly queries: StridedOperand;
  readonly keys: StridedOperand;
  readonly values: StridedOperand;
  /** The prologue's leaves, in its operand order; the scores' place holds undefined. */
  readonly leaves: readonly (StridedOperand | undefined)[];
  readonly statements: string;
  readonly expression: string;
  /** The scores' shape [...batch, T, S]; each operand's strides are over its first rank - 1 axes (rows), leaves' also over S. */
  readonly scoresShape: readonly number[];
  readonly depth: number;
  readonly width: number;
  readonly output: GPUBuffer;
  readonly outputOffset: number;
}

const kernels = new Map<string, Kernel>();

// info: rows, D, S, N, outOffset, qOffset, kOffset, vOffset, leaf offsets...,
//       per row axis (size, qStride, kStride, vStride, leaf strides...), leaf strides along S
function attentionKernel(launch: AttentionLaunch, rowRank: number): Kernel {
  const leaves = launch.leaves.map((leaf, i) => ({ leaf, i })).filter((entry) => entry.leaf !== undefined) as { leaf: StridedOperand; i: number }[];
  const key = `attention/${rowRank}/${launch.leaves.map((leaf) => leaf?.type ?? "scores").join(",")}/${launch.statements}${launch.expression}`;
  let kernel = kernels.get(key);
  if (kernel) return kernel;
  const perAxis = 4 + leaves.length;
  const axesAt = 8 + leaves.length;
  const alongAt = axesAt + rowRank * perAxis;
  const walk: string[] = [];
  for (let axis = rowRank - 1; axis >= 0; axis--) {
    const at = axesAt + axis * perAxis;
    const adds = leaves.map((entry, j) => ` p${entry.i} += index * info[${at + 4 + j}];`).join("");
    walk.push(`    { let size = info[${at}]; let index = rest % size; rest = rest / size; pq += index * info[${at + 1}]; pk += index * info[${at + 2}]; pv += index * info[${at + 3}];${adds} }`);
  }
  const loads = launch.leaves
    .map((leaf, i) => (leaf ? `    let ${operandName(i)} = x${i}[p${i} + s * info[${alongAt + leaves.findIndex((entry) => entry.i === i)}]];` : `    let ${operandName(i)} = score;`))
    .join("\n");
  const source = `@group(0) @binding(0) var<storage, read> info: array<u32>;
${storageBindings([
  ["queries", "f32", "read"],
  ["keys", "f32", "read"],
  ["vals", "f32", "read"],
  ...leaves.map((entry) => [`x${entry.i}`, entry.leaf.type, "read"] as const),
  ["out", "f32", "read_write"],
])}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = gid.x + gid.y * groups.x * 64u;
  if (row >= info[0]) { return; }
  let depth = info[1];
  let keys_count = info[2];
  let width = info[3];
  var pq = info[5];
  var pk = info[6];
  var pv = info[7];
${leaves.map((entry, j) => `  var p${entry.i} = info[${8 + j}];`).join("\n")}
  { var rest = row;
${walk.join("\n")}
  }
  var m = from_bits_(0xff800000u);
  var l = 0.0;
  var acc: array<f32, ${ATTENTION_MAX_WIDTH}>;
  for (var s = 0u; s < keys_count; s++) {
    var score = 0.0;
    for (var k = 0u; k < depth; k++) { score = fma(queries[pq + k], keys[pk + k * keys_count + s], score); }
${loads}
${launch.statements}
    let v = ${launch.expression};
    let m_next = max(m, v);
    let rescale = exp_(m - m_next);
    let weight = exp_(v - m_next);
    l = l * rescale + weight;
    for (var j = 0u; j < width; j++) { acc[j] = acc[j] * rescale + weight * vals[pv + s * width + j]; }
    m = m_next;
  }
  for (var j = 0u; j < width; j++) { out[info[4] + row * width + j] = acc[j] / l; }
}
`;
  kernel = { key, wgsl: () => mathFor(source) + source };
  kernels.set(key, kernel);
  return kernel;
}

export function attention(recorder: CommandRecorder, launch: AttentionLaunch): void {
  const rowShape = launch.scoresShape.slice(0, -1);
  const rows = sizeOf(rowShape);
  if (rows === 0) return;
  const leaves = launch.leaves.filter((leaf): leaf is StridedOperand => leaf !== undefined);
  const info = [rows, launch.depth, launch.scoresShape[launch.scoresShape.length - 1]!, launch.width, launch.outputOffset, launch.queries.offset, launch.keys.offset, launch.values.offset, ...leaves.map((leaf) => leaf.offset)];
  rowShape.forEach((size, axis) => info.push(size, launch.queries.strides[axis]!, launch.keys.strides[axis]!, launch.values.strides[axis]!, ...leaves.map((leaf) => leaf.strides[axis]!)));
  for (const leaf of leaves) info.push(leaf.strides[rowShape.length]!);
  recorder.launch({
    kernel: attentionKernel(launch, rowShape.length),
    buffers: [launch.queries.buffer, launch.keys.buffer, launch.values.buffer, ...leaves.map((leaf) => leaf.buffer), launch.output],
    meta: info,
    workgroups: workgroupsFor(rows),
  });
}
