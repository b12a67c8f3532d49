// Each IR node of a run becomes kernel launches here, in the role of the reference
// interpreter's evaluate(): the same switch over op kinds, with shapes already bound.
import { type DimBindings, type DType, evaluateDims, type Node, ShapeMismatchError, UnsupportedDTypeError, sizeOf } from "@gemma-ts/core";
import type { CommandRecorder } from "./command-recorder.js";
import { wgslScalar } from "./element-storage.js";
import { binaryExpression, castExpression, compareExpression, unaryExpression, whereExpression, zeroOf } from "./elementwise-expressions.js";
import * as indexing from "./kernels/indexing.js";
import { matmul } from "./kernels/matmul.js";
import { matmulNBits } from "./kernels/matmul-nbits.js";
import { range } from "./kernels/range.js";
import { reduce, softmax } from "./kernels/reduce.js";
import { broadcastStrides, contiguousStrides, stridedMap, type StridedOperand } from "./kernels/strided-map.js";
import { type AttentionGroup, type FusedGroup, fusedExpression } from "./fusion.js";
import { attention } from "./kernels/attention.js";
import type { RunValue, RunValues } from "./run-values.js";

export interface LowerContext {
  readonly recorder: CommandRecorder;
  readonly values: RunValues;
  readonly dims: DimBindings;
  /** The run's error buffer, for kernels that check indices. */
  readonly errors: () => GPUBuffer;
}

const normalizeAxisForRank = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** Reads `value` over an index space of `shape` (numpy broadcasting). */
function operand(value: RunValue, shape: readonly number[]): StridedOperand {
  return { buffer: value.storage.buffer, offset: value.offset, strides: broadcastStrides(value.shape, shape), type: wgslScalar(value.dtype), packedBytes: value.dtype === "uint8" };
}

function written(value: RunValue): StridedOperand {
  // Kernels write whole 32-bit words; uint8 results (other than gathered rows) would need byte writes.
  if (value.dtype === "uint8") throw new UnsupportedDTypeError("uint8", "a computed result on the webgpu backend (only inputs, constants, reshapes and gathers of uint8)");
  return { buffer: value.storage.buffer, offset: value.offset, strides: contiguousStrides(value.shape), type: wgslScalar(value.dtype) };
}

/** Launches the node's kernels and returns its value; `owned` false when the value aliases an argument. */
export function lowerNode(context: LowerContext, node: Node, shape: readonly number[], args: readonly RunValue[]): { value: RunValue; owned: boolean } {
  const { recorder, values } = context;
  const op = node.op;
  const what = `node %${node.id} (${op.kind})`;
  const fresh = () => values.allocate(node.dtype, shape, what);
  const map = (expression: string): { value: RunValue; owned: boolean } => {
    const out = fresh();
    stridedMap(
      recorder,
      expression,
      shape,
      args.map((arg) => operand(arg, shape)),
      written(out),
    );
    return { value: out, owned: true };
  };
  const [a, b, c] = args as [RunValue, RunValue, RunValue];
  switch (op.kind) {
    case "input":
    case "constant":
      throw new Error(`${op.kind} nodes are bound by the executable`);
    case "range": {
      const out = fresh();
      range(recorder, out.storage.buffer, out.offset, evaluateDims([op.start], context.dims)[0]!, shape[0]!);
      return { value: out, owned: true };
    }
    case "unary":
      return map(unaryExpression(op.op, node.dtype));
    case "binary":
      return map(binaryExpression(op.op, node.dtype));
    case "compare":
      return map(compareExpression(op.op));
    case "where":
      return map(whereExpression(node.dtype));
    case "cast":
      return map(castExpression(a.dtype, node.dtype));
    case "broadcastTo":
      return map("a");
    case "reshape":
      return { value: { ...a, shape }, owned: false };
    case "transpose": {
      const out = fresh();
      const strides = contiguousStrides(a.shape);
      stridedMap(recorder, "a", shape, [{ ...operand(a, a.shape), strides: op.perm.map((axis) => strides[axis]!) }], written(out));
      return { value: out, owned: true };
    }
    case "slice": {
      const starts = evaluateDims(op.starts, context.dims);
      const ends = evaluateDims(op.ends, context.dims);
      const strides = contiguousStrides(a.shape);
      let offset = a.offset;
      op.axes.forEach((axis, i) => {
        const size = a.shape[axis]!;
        if (starts[i]! < 0 || ends[i]! > size || starts[i]! > ends[i]!) throw new ShapeMismatchError(`${what}`, `range [${starts[i]}, ${ends[i]}) on axis ${axis} of size ${size}`);
        offset += starts[i]! * strides[axis]!;
      });
      const out = fresh();
      stridedMap(recorder, "a", shape, [{ ...operand(a, a.shape), offset, strides }], written(out));
      return { value: out, owned: true };
    }
    case "concat": {
      const out = fresh();
      const outStrides = contiguousStrides(shape);
      let at = 0;
      for (const part of args) {
        stridedMap(recorder, "a", part.shape, [operand(part, part.shape)], { ...written(out), offset: out.offset + at * outStrides[op.axis]!, strides: outStrides });
        at += part.shape[op.axis]!;
      }
      return { value: out, owned: true };
    }
    case "matmul": {
      if (node.dtype !== "float32") throw new UnsupportedDTypeError(node.dtype, "matmul on the webgpu backend");
      const out = fresh();
      const [m, k] = a.shape.slice(-2) as [number, number];
      const n = b.shape[b.shape.length - 1]!;
      const batchShape = shape.slice(0, -2);
      matmul(recorder, {
        a: a.storage.buffer,
        aOffset: a.offset,
        b: b.storage.buffer,
        bOffset: b.offset,
        out: out.storage.buffer,
        outOffset: out.offset,
        m,
        k,
        n,
        batchShape,
        aBatchStrides: broadcastStrides(a.shape.slice(0, -2), batchShape).map((s) => s * m * k),
        bBatchStrides: broadcastStrides(b.shape.slice(0, -2), batchShape).map((s) => s * k * n),
      });
      return { value: out, owned: true };
    }
    case "matmulNBits": {
      const out = fresh();
      const k = a.shape[a.shape.length - 1]!;
      matmulNBits(recorder, {
        x: a.storage.buffer,
        xOffset: a.offset,
        blocks: b.storage.buffer,
        blocksOffset: b.offset,
        scales: c.storage.buffer,
        scalesOffset: c.offset,
        out: out.storage.buffer,
        outOffset: out.offset,
        rows: sizeOf(a.shape) / Math.max(1, k),
        k,
        n: shape[shape.length - 1]!,
        bits: op.bits,
        blockSize: op.blockSize,
      });
      return { value: out, owned: true };
    }
    case "reduce":
    case "softmax":
      return reduction(context, node, shape, { operands: [operand(a, a.shape)], statements: "", expression: "a", inputShape: a.shape, inputDtype: a.dtype });
    case "gather": {
      const out = fresh();
      const rowSize = sizeOf(a.shape.slice(1));
      if (a.dtype === "uint8") indexing.gatherBytes(recorder, indexed(context, node, a, b, out), a.shape[0] ?? 0, rowSize, sizeOf(b.shape));
      else indexing.gather(recorder, indexed(context, node, a, b, out), a.shape[0] ?? 0, rowSize, sizeOf(b.shape));
      return { value: out, owned: true };
    }
    case "scatterAdd": {
      // inputs: indices (a), updates (b)
      const out = zeroed(context, node, shape);
      const rowSize = sizeOf(shape.slice(1));
      indexing.scatterAdd(recorder, indexed(context, node, b, a, out), op.rows, rowSize, sizeOf(a.shape));
      return { value: out, owned: true };
    }
    case "takeAlong": {
      const out = fresh();
      const size = a.shape[a.shape.length - 1] ?? 0;
      const k = b.shape[b.shape.length - 1] ?? 0;
      indexing.takeAlong(recorder, indexed(context, node, a, b, out), k === 0 ? 0 : sizeOf(b.shape) / k, size, k);
      return { value: out, owned: true };
    }
    case "scatterAlong": {
      const out = zeroed(context, node, shape);
      const size = shape[shape.length - 1]!;
      const k = a.shape[a.shape.length - 1] ?? 0;
      indexing.scatterAlong(recorder, indexed(context, node, b, a, out), k === 0 ? 0 : sizeOf(a.shape) / k, size, k);
      return { value: out, owned: true };
    }
  }
}

interface ReductionInput {
  readonly operands: readonly StridedOperand[];
  readonly statements: string;
  readonly expression: string;
  readonly inputShape: readonly number[];
  readonly inputDtype: DType;
}

/** A reduce or softmax node over its input, read as given (a tensor, or a fused prologue over its leaves). */
function reduction(context: LowerContext, node: Node, shape: readonly number[], input: ReductionInput): { value: RunValue; owned: boolean } {
  const op = node.op;
  if (op.kind !== "reduce" && op.kind !== "softmax") throw new Error(`${op.kind} is not a reduction`);
  if (input.operands.some((operand) => operand.packedBytes)) throw new UnsupportedDTypeError("uint8", `${op.kind} on the webgpu backend`);
  if (op.kind === "reduce" && op.op === "sum" && wgslScalar(node.dtype) === "u32") throw new UnsupportedDTypeError(node.dtype, "reduce sum on the webgpu backend");
  if (node.dtype === "float16" || node.dtype === "bfloat16" || (op.kind === "softmax" && node.dtype !== "float32")) throw new UnsupportedDTypeError(node.dtype, `${op.kind} on the webgpu backend`);
  const out = context.values.allocate(node.dtype, shape, `node %${node.id} (${op.kind})`);
  const launch = { ...input, type: wgslScalar(input.inputDtype), shape: input.inputShape, output: out.storage.buffer, outputOffset: out.offset };
  const rank = input.inputShape.length;
  if (op.kind === "reduce") {
    reduce(
      context.recorder,
      op.op,
      launch,
      op.axes.map((axis) => normalizeAxisForRank(axis, rank)),
    );
  } else softmax(context.recorder, launch, normalizeAxisForRank(op.axis, rank));
  return { value: out, owned: true };
}

/** A reduce or softmax whose input is a fused elementwise group, evaluated where it is read. */
export function lowerReduction(context: LowerContext, node: Node, shape: readonly number[], prologue: FusedGroup, inputShape: readonly number[], dtypeOf: (id: number) => DType): { value: RunValue; owned: boolean } {
  const { statements, expression } = fusedExpression(prologue, dtypeOf);
  return reduction(context, node, shape, {
    operands: prologue.leaves.map((id) => operand(context.values.get(id), inputShape)),
    statements,
    expression,
    inputShape,
    inputDtype: prologue.members.at(-1)!.dtype,
  });
}

function indexed(context: LowerContext, node: Node, data: RunValue, indices: RunValue, out: RunValue) {
  return {
    node: node.id,
    type: wgslScalar(data.dtype),
    data: { buffer: data.storage.buffer, offset: data.offset },
    indices: { buffer: indices.storage.buffer, offset: indices.offset },
    out: { buffer: out.storage.buffer, offset: out.offset },
    errors: context.errors(),
  };
}

function zeroed(context: LowerContext, node: Node, shape: readonly number[]): RunValue {
  const out = context.values.allocate(node.dtype, shape, `node %${node.id} (${node.op.kind})`);
  stridedMap(context.recorder, zeroOf(node.dtype), shape, [], written(out));
  return out;
}

/** A fused group of elementwise nodes (fusion.ts) as one strided-map launch over its leaves. */
export function lowerFused(context: LowerContext, group: FusedGroup, shape: readonly number[], dtypeOf: (id: number) => DType): { value: RunValue; owned: boolean } {
  const root = group.members[group.members.length - 1]!;
  const out = context.values.allocate(root.dtype, shape, `node %${root.id} (fused ${group.members.map((m) => m.op.kind).join(", ")})`);
  const { statements, expression } = fusedExpression(group, dtypeOf);
  stridedMap(
    context.recorder,
    expression,
    shape,
    group.leaves.map((id) => operand(context.values.get(id), shape)),
    written(out),
    statements,
  );
  return { value: out, owned: true };
}

/** An attention group (fusion.ts) as one attention launch over the queries, keys, values and the prologue's leaves. */
export function lowerAttention(context: LowerContext, group: AttentionGroup, shape: readonly number[], scoresShape: readonly number[], dtypeOf: (id: number) => DType): { value: RunValue; owned: boolean } {
  const { scores, prologue, output } = group;
  const [queries, keys, values] = [context.values.get(scores.inputs[0]!), context.values.get(scores.inputs[1]!), context.values.get(output.inputs[1]!)];
  const rowShape = scoresShape.slice(0, -1);
  const depth = queries.shape[queries.shape.length - 1]!;
  const width = values.shape[values.shape.length - 1]!;
  const keysCount = scoresShape[scoresShape.length - 1]!;
  // Batch axes broadcast; the T axis walks the queries' rows and stays put in keys and values.
  const rowStrides = (matrix: number, lead: readonly number[]) => broadcastStrides(lead, rowShape).map((stride) => stride * matrix);
  const read = (value: RunValue, strides: number[]): StridedOperand => ({ buffer: value.storage.buffer, offset: value.offset, strides, type: wgslScalar(value.dtype) });
  const { statements, expression } = prologue ? fusedExpression(prologue, dtypeOf) : { statements: "", expression: "a" };
  const out = context.values.allocate(output.dtype, shape, `node %${output.id} (attention)`);
  attention(context.recorder, {
    queries: read(queries, rowStrides(depth, queries.shape.slice(0, -1))),
    keys: read(keys, rowStrides(depth * keysCount, [...keys.shape.slice(0, -2), 1])),
    values: read(values, rowStrides(keysCount * width, [...values.shape.slice(0, -2), 1])),
    leaves: (prologue ? prologue.leaves : [scores.id]).map((id) => (id === scores.id ? undefined : operand(context.values.get(id), scoresShape))),
    statements,
    expression,
    scoresShape,
    depth,
    width,
    output: out.storage.buffer,
    outputOffset: out.offset,
  });
  return { value: out, owned: true };
}
