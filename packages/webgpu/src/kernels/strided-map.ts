// The elementwise kernel behind every unary, binary, compare, where and cast op and behind the
// data movement that only re-indexes (transpose, slice, broadcastTo, a concat part): for each
// element of the output's index space, read each operand at its offset plus index . strides,
// combine with a WGSL expression, write at the output's offset plus index . strides.
//   out[o + sum_d i_d so_d] = f(x0[p0 + sum_d i_d s0_d], x1[...], ...)
// Broadcasting is a stride of 0. Axes that every operand walks contiguously are merged first, so
// a plain elementwise op over contiguous tensors is a rank-1 kernel.
import { sizeOf } from "@gemma-ts/core";
import type { CommandRecorder } from "../command-recorder.js";
import type { WgslScalar } from "../element-storage.js";
import { itemKernel, type Kernel, storageBindings, workgroupsFor } from "../kernel.js";
import { mathFor } from "./math.wgsl.js";

export interface StridedOperand {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  /** One stride per axis of the index space, in elements; 0 where the operand broadcasts. */
  readonly strides: readonly number[];
  readonly type: WgslScalar;
  /** uint8 elements packed four to a u32 word (offset and strides in bytes); read as u32. */
  readonly packedBytes?: boolean;
}

/** The name of operand `o` in expressions: a, b, c for the first three (as the ops' templates use them), then l3, l4, ... */
export function operandName(o: number): string {
  return o < 3 ? "abc"[o]! : `l${o}`;
}

/**
 * Launches out = expression over the operands; `statements` (WGSL `let`s over the operands) run
 * first, for fused chains of elementwise ops (fusion.ts).
 */
export function stridedMap(recorder: CommandRecorder, expression: string, shape: readonly number[], inputs: readonly StridedOperand[], output: StridedOperand, statements = ""): void {
  const count = sizeOf(shape);
  if (count === 0) return;
  const [sizes, strides] = mergeAxes(shape, [output, ...inputs].map((o) => o.strides));
  const kernel = mapKernel(
    expression,
    statements,
    sizes.length,
    inputs.map((i) => (i.packedBytes ? "u8" : i.type)),
    output.type,
  );
  const meta = [count, output.offset, ...inputs.map((i) => i.offset)];
  sizes.forEach((size, axis) => meta.push(size, ...strides.map((s) => s[axis]!)));
  recorder.launch({ kernel, buffers: [...inputs.map((i) => i.buffer), output.buffer], meta, workgroups: workgroupsFor(count) });
}

/** Row-major strides of a contiguous tensor of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis]!;
  }
  return strides;
}

/** Strides reading a tensor of `from` shape broadcast (numpy rules) to the index space `to`. */
export function broadcastStrides(from: readonly number[], to: readonly number[]): number[] {
  const own = contiguousStrides(from);
  const lead = to.length - from.length;
  return to.map((_, axis) => {
    const source = axis - lead;
    if (source < 0 || from[source] === 1) return 0;
    return own[source]!;
  });
}

/** Drops axes of size 1 and merges neighbours that every stride list walks as one. */
function mergeAxes(shape: readonly number[], strideLists: readonly (readonly number[])[]): [number[], number[][]] {
  const sizes: number[] = [];
  const strides: number[][] = strideLists.map(() => []);
  shape.forEach((size, axis) => {
    if (size === 1) return;
    const last = sizes.length - 1;
    if (last >= 0 && strideLists.every((list, o) => strides[o]![last] === list[axis]! * size)) {
      sizes[last]! *= size;
      strideLists.forEach((list, o) => (strides[o]![last] = list[axis]!));
      return;
    }
    sizes.push(size);
    strideLists.forEach((list, o) => strides[o]!.push(list[axis]!));
  });
  if (sizes.length === 0) return [[1], strideLists.map(() => [0])];
  return [sizes, strides];
}

const kernels = new Map<string, Kernel>();

function mapKernel(expression: string, statements: string, rank: number, inputTypes: readonly (WgslScalar | "u8")[], outputType: WgslScalar): Kernel {
  const key = `map/${rank}/${inputTypes.join(",")}->${outputType}/${statements}${expression}`;
  let kernel = kernels.get(key);
  if (kernel) return kernel;
  const operands = inputTypes.length;
  const perAxis = operands + 2;
  const base = 2 + operands;
  kernel = {
    key,
    wgsl: () => {
      const declarations = storageBindings([...inputTypes.map((type, o) => [`x${o}`, type === "u8" ? "u32" : type, "read"] as const), ["out", outputType, "read_write"] as const]);
      const lines = ["  var rest = i;", "  var po = info[1];", ...inputTypes.map((_, o) => `  var p${o} = info[${2 + o}];`)];
      for (let axis = rank - 1; axis >= 0; axis--) {
        const at = base + axis * perAxis;
        lines.push(`  { let size = info[${at}]; let index = rest % size; rest = rest / size;`);
        lines.push(`    po += index * info[${at + 1}];${inputTypes.map((_, o) => ` p${o} += index * info[${at + 2 + o}];`).join("")} }`);
      }
      inputTypes.forEach((type, o) =>
        lines.push(type === "u8" ? `  let ${operandName(o)} = (x${o}[p${o} / 4u] >> ((p${o} % 4u) * 8u)) & 255u;` : `  let ${operandName(o)} = x${o}[p${o}];`),
      );
      if (statements) lines.push(statements);
      lines.push(`  out[po] = ${expression};`);
      return mathFor(statements + expression) + itemKernel(declarations, lines.join("\n"));
    },
  };
  kernels.set(key, kernel);
  return kernel;
}
