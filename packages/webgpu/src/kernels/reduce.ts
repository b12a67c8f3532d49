// reduce (sum or max over any set of axes) and softmax along one axis. Both see their input as
// an outer index space (the kept axes; each output) times an inner one (the reduced axes, or the
// softmax axis), each merged to as few axes as its strides allow. A long inner range gets a
// workgroup of 64 threads per output, each striding over the range, then a tree in workgroup
// memory; a short one gets one thread per output. Sums are compensated (Kahan), so a loss summed
// over thousands of tokens keeps float32's precision.
//   reduce sum:  out[o] = sum_r x[o, r]          reduce max: out[o] = max_r x[o, r]
//   softmax:     out[o, r] = exp(x[o, r] - max_r x) / sum_r exp(x[o, r] - max_r x)
import type { CommandRecorder } from "../command-recorder.js";
import type { WgslScalar } from "../element-storage.js";
import { type Kernel, storageBindings, workgroupsFor } from "../kernel.js";
import { mathFor } from "./math.wgsl.js";

/** Inner ranges at least this long get a workgroup per output. */
const WORKGROUP_THRESHOLD = 256;
const GROUP = 64;

export interface ReduceLaunch {
  readonly input: GPUBuffer;
  readonly inputOffset: number;
  readonly output: GPUBuffer;
  readonly outputOffset: number;
  readonly type: WgslScalar;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
}

/** Sizes and strides of `axes` of the input, merged where contiguous; [1], [0] when none. */
function mergedSpace(shape: readonly number[], strides: readonly number[], axes: readonly number[]): [number[], number[]] {
  const sizes: number[] = [];
  const steps: number[] = [];
  for (const axis of axes) {
    const size = shape[axis]!;
    if (size === 1) continue;
    const last = sizes.length - 1;
    if (last >= 0 && steps[last] === strides[axis]! * size) {
      sizes[last]! *= size;
      steps[last] = strides[axis]!;
    } else {
      sizes.push(size);
      steps.push(strides[axis]!);
    }
  }
  return sizes.length === 0 ? [[1], [0]] : [sizes, steps];
}

/** WGSL that sets `name` to the input offset of multi-index `flat` of a space of `rank` axes at info[at...]. */
function walk(name: string, flat: string, rank: number, at: string): string {
  const lines = [`  var ${name} = 0u;`, `  { var rest = ${flat};`];
  for (let axis = rank - 1; axis >= 0; axis--) {
    lines.push(`    { let size = info[${at} + ${2 * axis}u]; ${name} += (rest % size) * info[${at} + ${2 * axis + 1}u]; rest = rest / size; }`);
  }
  lines.push("  }");
  return lines.join("\n");
}

type Mode = "sum" | "max" | "softmax";

const kernels = new Map<string, Kernel>();

// meta: outputs, inner count, inputOffset, outputOffset, outerRank x (size, stride), innerRank x (size, stride)
function reduceKernel(mode: Mode, type: WgslScalar, outerRank: number, innerRank: number, grouped: boolean): Kernel {
  const key = `reduce/${mode}/${type}/${outerRank}/${innerRank}/${grouped ? "group" : "thread"}`;
  let kernel = kernels.get(key);
  if (kernel) return kernel;
  const lowest = type === "f32" ? "from_bits_(0xff800000u)" : type === "i32" ? "-2147483647 - 1" : "0u";
  const innerAt = `${4 + 2 * outerRank}u`;
  const stride = grouped ? GROUP : 1;
  const start = grouped ? "lid.x" : "0u";
  // One thread's share of the inner range: r = start, start + threads, ...
  const loop = (body: string) => `  for (var r = ${start}; r < inner; r += ${stride}u) {\n${walk("q", "r", innerRank, innerAt)}\n    let v = x[base + q];\n${body}\n  }`;
  const combine = (op: "max" | "sum", variable: string) =>
    grouped
      ? `  scratch[lid.x] = ${variable};
  workgroupBarrier();
  for (var half = ${GROUP / 2}u; half > 0u; half = half / 2u) {
    if (lid.x < half) { scratch[lid.x] = ${op === "max" ? "max(scratch[lid.x], scratch[lid.x + half])" : "scratch[lid.x] + scratch[lid.x + half]"}; }
    workgroupBarrier();
  }
  let ${variable}_all = scratch[0];
  workgroupBarrier();`
      : `  let ${variable}_all = ${variable};`;
  const kahan = (variable: string, value: string) =>
    type === "f32" ? `    { let y = ${value} - ${variable}_c; let t = ${variable} + y; ${variable}_c = (t - ${variable}) - y; ${variable} = t; }` : `    ${variable} += ${value};`;
  const zero = type === "f32" ? "0.0" : type === "i32" ? "0" : "0u";
  let body: string;
  if (mode === "max") {
    body = `  var m = ${lowest};\n${loop("    m = max(m, v);")}\n${combine("max", "m")}\n  if (${grouped ? "lid.x == 0u" : "true"}) { out[info[3] + o] = m_all; }`;
  } else if (mode === "sum") {
    body = `  var s = ${zero};\n  var s_c = ${zero};\n${loop(kahan("s", "v"))}\n${combine("sum", "s")}\n  if (${grouped ? "lid.x == 0u" : "true"}) { out[info[3] + o] = s_all; }`;
  } else {
    // The output is contiguous like the input's index space: out position = input position - input offset + output offset.
    body = `  var m = ${lowest};\n${loop("    m = max(m, v);")}\n${combine("max", "m")}
  var s = 0.0;\n  var s_c = 0.0;\n${loop(kahan("s", "exp_(v - m_all)"))}\n${combine("sum", "s")}
${loop("    out[info[3] + outer_offset + q] = exp_(v - m_all) / s_all;")}`;
  }
  const header = `@group(0) @binding(0) var<storage, read> info: array<u32>;
${storageBindings([
  ["x", type, "read"],
  ["out", type, "read_write"],
])}
${grouped ? `var<workgroup> scratch: array<${type}, ${GROUP}>;` : ""}
@compute @workgroup_size(${GROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(global_invocation_id) gid: vec3u) {
  let o = ${grouped ? "wid.x + wid.y * groups.x" : `gid.x + gid.y * groups.x * ${GROUP}u`};
  if (o >= info[0]) { return; }
  let inner = info[1];
${walk("outer_offset", "o", outerRank, "4u")}
  let base = info[2] + outer_offset;
${body}
}
`;
  kernel = { key, wgsl: () => mathFor(header) + header };
  kernels.set(key, kernel);
  return kernel;
}

function launchReduce(recorder: CommandRecorder, mode: Mode, l: ReduceLaunch, axes: readonly number[]): void {
  let reduced = axes;
  const kept = l.shape.map((_, axis) => axis).filter((axis) => !reduced.includes(axis));
  reduced = [...reduced].sort((x, y) => x - y);
  const [outerSizes, outerStrides] = mergedSpace(l.shape, l.strides, kept);
  const [innerSizes, innerStrides] = mergedSpace(l.shape, l.strides, reduced);
  const outputs = kept.reduce((n, axis) => n * l.shape[axis]!, 1);
  const inner = reduced.reduce((n, axis) => n * l.shape[axis]!, 1);
  if (outputs === 0) return;
  const grouped = inner >= WORKGROUP_THRESHOLD;
  const kernel = reduceKernel(mode, l.type, outerSizes.length, innerSizes.length, grouped);
  const meta = [outputs, inner, l.inputOffset, l.outputOffset];
  outerSizes.forEach((size, axis) => meta.push(size, outerStrides[axis]!));
  innerSizes.forEach((size, axis) => meta.push(size, innerStrides[axis]!));
  recorder.launch({ kernel, buffers: [l.input, l.output], meta, workgroups: workgroupsFor(outputs, grouped ? 1 : GROUP) });
}

export function reduce(recorder: CommandRecorder, op: "sum" | "max", l: ReduceLaunch, axes: readonly number[]): void {
  launchReduce(recorder, op, l, axes);
}

export function softmax(recorder: CommandRecorder, l: ReduceLaunch, axis: number): void {
  launchReduce(recorder, "softmax", l, [axis]);
}
