// reduce (sum or max over any set of axes) and softmax along one axis, each reading its input
// through an optional elementwise prologue (fusion.ts): the value at an index is an expression of
// operands read with their own (broadcast) strides, so a soft-cap and a mask before a softmax, or
// the square before RMSNorm's mean, are computed where they are read, never stored.
// The input's index space is an outer part (the kept axes; one output each) times an inner part
// (the reduced axes, or the softmax axis), each merged to as few axes as every operand's strides
// allow. A long inner range gets a workgroup of 64 threads per output, each striding over the
// range, then a tree in workgroup memory; a short one gets one thread per output. Sums are
// compensated (Kahan), so a loss summed over thousands of tokens keeps float32's precision.
//   reduce sum:  out[o] = sum_r v(o, r)          reduce max: out[o] = max_r v(o, r)
//   softmax:     out[o, r] = exp(v(o, r) - max_r v) / sum_r exp(v(o, r) - max_r v)
import type { CommandRecorder } from "../command-recorder.js";
import type { WgslScalar } from "../element-storage.js";
import { type Kernel, storageBindings, workgroupsFor } from "../kernel.js";
import { mathFor } from "./math.wgsl.js";
import { operandName, type StridedOperand } from "./strided-map.js";

/** Inner ranges at least this long get a workgroup per output. */
const WORKGROUP_THRESHOLD = 256;
const GROUP = 64;

export interface ReduceLaunch {
  /** Read over the input's index space: one stride per axis of `shape`, 0 where broadcast. */
  readonly operands: readonly StridedOperand[];
  /** The value at an index, over the operands' names (operandName), after `statements`. */
  readonly expression: string;
  readonly statements: string;
  /** The value's WGSL type (the reduced tensor's). */
  readonly type: WgslScalar;
  readonly shape: readonly number[];
  readonly output: GPUBuffer;
  readonly outputOffset: number;
}

/** Sizes of `axes`, and each stride list's strides on them, merged where every list walks them as one. */
function mergedSpace(shape: readonly number[], axes: readonly number[], strideLists: readonly (readonly number[])[]): [number[], number[][]] {
  const sizes: number[] = [];
  const strides: number[][] = strideLists.map(() => []);
  for (const axis of axes) {
    const size = shape[axis]!;
    if (size === 1) continue;
    const last = sizes.length - 1;
    if (last >= 0 && strideLists.every((list, s) => strides[s]![last] === list[axis]! * size)) {
      sizes[last]! *= size;
      strideLists.forEach((list, s) => (strides[s]![last] = list[axis]!));
    } else {
      sizes.push(size);
      strideLists.forEach((list, s) => strides[s]!.push(list[axis]!));
    }
  }
  return sizes.length === 0 ? [[1], strideLists.map(() => [0])] : [sizes, strides];
}

/**
 * WGSL adding multi-index `flat`'s offsets to `names[s]` (one per stride list) over a space of
 * `rank` axes whose (size, strides...) entries start at info[at].
 */
function walk(names: readonly string[], flat: string, rank: number, at: number): string {
  const lines = [`  { var rest = ${flat};`];
  const width = names.length + 1;
  for (let axis = rank - 1; axis >= 0; axis--) {
    const base = at + axis * width;
    const adds = names.map((name, s) => ` ${name} += index * info[${base + 1 + s}];`).join("");
    lines.push(`    { let size = info[${base}]; let index = rest % size; rest = rest / size;${adds} }`);
  }
  lines.push("  }");
  return lines.join("\n");
}

type Mode = "sum" | "max" | "softmax";

const kernels = new Map<string, Kernel>();

// info: outputs, inner count, outputOffset, operand offsets..., outer axes x (size, strides...), inner axes x (size, strides...)
// The last stride list is the contiguous one of the input's shape: where softmax writes.
function reduceKernel(mode: Mode, launch: ReduceLaunch, outerRank: number, innerRank: number, grouped: boolean): Kernel {
  const types = launch.operands.map((operand) => operand.type);
  const key = `reduce/${mode}/${launch.type}/${types.join(",")}/${outerRank}/${innerRank}/${grouped ? "group" : "thread"}/${launch.statements}${launch.expression}`;
  let kernel = kernels.get(key);
  if (kernel) return kernel;
  const { type } = launch;
  const count = types.length;
  const lowest = type === "f32" ? "from_bits_(0xff800000u)" : type === "i32" ? "-2147483647 - 1" : "0u";
  const outerAt = 3 + count;
  const innerAt = outerAt + outerRank * (count + 2);
  const positions = [...types.map((_, o) => `p${o}`), "pc"];
  const stride = grouped ? GROUP : 1;
  const start = grouped ? "lid.x" : "0u";
  const loads = types.map((_, o) => `    let ${operandName(o)} = x${o}[p${o} + q${o}];`).join("\n");
  // One thread's share of the inner range: r = start, start + threads, ...
  const loop = (body: string) =>
    `  for (var r = ${start}; r < inner; r += ${stride}u) {
${positions.map((p) => `    var ${p.replace("p", "q")} = 0u;`).join("\n")}
${walk(
  positions.map((p) => p.replace("p", "q")),
  "r",
  innerRank,
  innerAt,
)}
${loads}
${launch.statements}
    let v = ${launch.expression};
${body}
  }`;
  // Compensation is dropped once the sum is infinite or NaN: inf - inf would turn it into NaN.
  const kahan = (variable: string, value: string) =>
    type === "f32"
      ? `    { let y = ${value} - ${variable}_c; let t = ${variable} + y; ${variable}_c = select(0.0, (t - ${variable}) - y, (bitcast<u32>(t) & 0x7f800000u) != 0x7f800000u); ${variable} = t; }`
      : `    ${variable} += ${value};`;
  // NaN propagates through max, as in ONNX's ReduceMax and the reference backend.
  const maxOf = (x: string, y: string) => (type === "f32" ? `select(max(${x}, ${y}), ${x} + ${y}, is_nan_(${x}) || is_nan_(${y}))` : `max(${x}, ${y})`);
  const combine = (op: "max" | "sum", variable: string) =>
    grouped
      ? `  scratch[lid.x] = ${variable};
  workgroupBarrier();
  for (var half = ${GROUP / 2}u; half > 0u; half = half / 2u) {
    if (lid.x < half) { scratch[lid.x] = ${op === "max" ? maxOf("scratch[lid.x]", "scratch[lid.x + half]") : "scratch[lid.x] + scratch[lid.x + half]"}; }
    workgroupBarrier();
  }
  let ${variable}_all = scratch[0];
  workgroupBarrier();`
      : `  let ${variable}_all = ${variable};`;
  const zero = type === "f32" ? "0.0" : type === "i32" ? "0" : "0u";
  const first = grouped ? "lid.x == 0u" : "true";
  let body: string;
  if (mode === "max") {
    body = `  var m = ${lowest};\n${loop(`    m = ${maxOf("m", "v")};`)}\n${combine("max", "m")}\n  if (${first}) { out[info[2] + o] = m_all; }`;
  } else if (mode === "sum") {
    body = `  var s = ${zero};\n  var s_c = ${zero};\n${loop(kahan("s", "v"))}\n${combine("sum", "s")}\n  if (${first}) { out[info[2] + o] = s_all; }`;
  } else {
    body = `  var m = ${lowest};\n${loop(`    m = ${maxOf("m", "v")};`)}\n${combine("max", "m")}
  var s = 0.0;\n  var s_c = 0.0;\n${loop(kahan("s", "exp_(v - m_all)"))}\n${combine("sum", "s")}
${loop("    out[info[2] + pc + qc] = exp_(v - m_all) / s_all;")}`;
  }
  const source = `@group(0) @binding(0) var<storage, read> info: array<u32>;
${storageBindings([...types.map((t, o) => [`x${o}`, t, "read"] as const), ["out", type, "read_write"] as const])}
${grouped ? `var<workgroup> scratch: array<${type}, ${GROUP}>;` : ""}
@compute @workgroup_size(${GROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(global_invocation_id) gid: vec3u) {
  let o = ${grouped ? "wid.x + wid.y * groups.x" : `gid.x + gid.y * groups.x * ${GROUP}u`};
  if (o >= info[0]) { return; }
  let inner = info[1];
${types.map((_, i) => `  var p${i} = info[${3 + i}];`).join("\n")}
  var pc = 0u;
${walk(positions, "o", outerRank, outerAt)}
${body}
}
`;
  kernel = { key, wgsl: () => mathFor(source) + source };
  kernels.set(key, kernel);
  return kernel;
}

function launchReduce(recorder: CommandRecorder, mode: Mode, launch: ReduceLaunch, axes: readonly number[]): void {
  const { shape } = launch;
  const reduced = [...axes].sort((x, y) => x - y);
  const kept = shape.map((_, axis) => axis).filter((axis) => !reduced.includes(axis));
  const contiguous = shape.map((_, axis) => shape.slice(axis + 1).reduce((n, d) => n * d, 1));
  const strideLists = [...launch.operands.map((operand) => operand.strides), contiguous];
  const [outerSizes, outerStrides] = mergedSpace(shape, kept, strideLists);
  const [innerSizes, innerStrides] = mergedSpace(shape, reduced, strideLists);
  const outputs = kept.reduce((n, axis) => n * shape[axis]!, 1);
  const inner = reduced.reduce((n, axis) => n * shape[axis]!, 1);
  if (outputs === 0) return;
  const grouped = inner >= WORKGROUP_THRESHOLD;
  const kernel = reduceKernel(mode, launch, outerSizes.length, innerSizes.length, grouped);
  const info = [outputs, inner, launch.outputOffset, ...launch.operands.map((operand) => operand.offset)];
  outerSizes.forEach((size, axis) => info.push(size, ...outerStrides.map((list) => list[axis]!)));
  innerSizes.forEach((size, axis) => info.push(size, ...innerStrides.map((list) => list[axis]!)));
  recorder.launch({ kernel, buffers: [...launch.operands.map((operand) => operand.buffer), launch.output], meta: info, workgroups: workgroupsFor(outputs, grouped ? 1 : GROUP) });
}

export function reduce(recorder: CommandRecorder, op: "sum" | "max", launch: ReduceLaunch, axes: readonly number[]): void {
  launchReduce(recorder, op, launch, axes);
}

export function softmax(recorder: CommandRecorder, launch: ReduceLaunch, axis: number): void {
  launchReduce(recorder, "softmax", launch, [axis]);
}
