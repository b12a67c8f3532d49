// Tracing: model code calls methods on symbolic tensors (`x.matmul(w).add(b)`), which append IR
// nodes with their shapes checked. `build` names the outputs and returns the Graph that backends
// compile. Nodes are appended in the order they are created, so the graph is topologically sorted.
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import type { DType } from "../tensor/dtype.js";
import { HostTensor } from "../tensor/host-tensor.js";
import { QUANT_BLOCK } from "../quant/blocks.js";
import { allStatic, dim, dimEquals, dimProduct, showDims, type Dim, type Dims } from "./dims.js";
import type { Graph, Node } from "./graph.js";
import type { BinaryOpName, CompareOpName, Op, UnaryOpName } from "./ops.js";
import {
  broadcastShapes,
  concatShape,
  matmulShape,
  normalizeAxis,
  rangeShape,
  reduceShape,
  reshapeShape,
  sliceShape,
  transposeShape,
} from "./shapes.js";

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly inputIds = new Map<string, number>();

  /** A run-time input; dims may be names ("batch") bound from the given tensor's shape. */
  input(name: string, dtype: DType, shape: Dims): SymbolicTensor {
    if (this.inputIds.has(name)) throw new InvalidArgumentError("input", `'${name}' is declared twice`);
    const tensor = this.append({ kind: "input", name }, [], dtype, shape.map(dim));
    this.inputIds.set(name, tensor.id);
    return tensor;
  }

  constant(value: HostTensor): SymbolicTensor {
    return this.append({ kind: "constant", value }, [], value.dtype, value.shape);
  }

  /** A rank-0 float32 (or other dtype) constant. */
  scalar(value: number, dtype: DType = "float32"): SymbolicTensor {
    return this.constant(scalarTensor(value, dtype));
  }

  /** int64 [end - start]: start, start + 1, ..., end - 1; the bounds may be symbolic dims. */
  range(start: Dim, end: Dim): SymbolicTensor {
    const op: Op = { kind: "range", start: dim(start), end: dim(end) };
    return this.append(op, [], "int64", rangeShape(op.start, op.end));
  }

  where(condition: SymbolicTensor, whenTrue: SymbolicTensor, whenFalse: SymbolicTensor): SymbolicTensor {
    if (condition.dtype !== "bool") throw new ShapeMismatchError("where", `condition must be bool, got ${condition.dtype}`);
    sameDType("where", whenTrue, whenFalse);
    const shape = broadcastShapes("where", condition.shape, whenTrue.shape, whenFalse.shape);
    return this.append({ kind: "where" }, [condition.id, whenTrue.id, whenFalse.id], whenTrue.dtype, shape);
  }

  concat(tensors: readonly SymbolicTensor[], axis: number): SymbolicTensor {
    if (tensors.length === 0) throw new InvalidArgumentError("concat", "needs at least one tensor");
    const first = tensors[0]!;
    tensors.forEach((t) => sameDType("concat", first, t));
    const normalized = normalizeAxis(axis, first.shape.length, "concat");
    const shape = concatShape(tensors.map((t) => t.shape), normalized);
    return this.append({ kind: "concat", axis: normalized }, tensors.map((t) => t.id), first.dtype, shape);
  }

  /** The gradient of `takeAlong`: zeros [..., size] with `updates` [..., k] summed in at `indices` [..., k]. */
  scatterAlong(indices: SymbolicTensor, updates: SymbolicTensor, size: Dim): SymbolicTensor {
    checkAlongIndices("scatterAlong", updates.shape, indices);
    if (indices.shape.some((d, i) => !dimEquals(d, updates.shape[i]!))) {
      throw new ShapeMismatchError("scatterAlong", `updates [${updates.shape.join(", ")}] and indices [${indices.shape.join(", ")}] differ`);
    }
    return this.append({ kind: "scatterAlong", size: dim(size) }, [indices.id, updates.id], updates.dtype, [...updates.shape.slice(0, -1), dim(size)]);
  }

  /** The gradient of `gather`: a [rows, ...] tensor with `updates` rows summed in at `indices`. */
  scatterAdd(indices: SymbolicTensor, updates: SymbolicTensor, rows: Dim): SymbolicTensor {
    if (typeof rows !== "number") throw new ShapeMismatchError("scatterAdd", `the table's row count must be static, got ${rows}`);
    const rowShape = updates.shape.slice(indices.shape.length);
    if (indices.shape.some((d, i) => updates.shape[i] !== d)) {
      throw new ShapeMismatchError("scatterAdd", `updates [${updates.shape.join(", ")}] do not start with indices' shape`);
    }
    return this.append({ kind: "scatterAdd", rows }, [indices.id, updates.id], updates.dtype, [rows, ...rowShape]);
  }

  /** x [..., K] times the transpose of the block-quantized matrix (blocks, scales): [..., N]. */
  matmulNBits(x: SymbolicTensor, blocks: SymbolicTensor, scales: SymbolicTensor, bits: 4 | 8): SymbolicTensor {
    const [rows, blockCount, blobBytes] = blocks.shape as [Dim, Dim, Dim];
    if (blocks.dtype !== "uint8" || blocks.rank !== 3 || !allStatic(blocks.shape)) {
      throw new ShapeMismatchError("matmulNBits", `blocks must be static uint8 [N, blocks, bytes], got ${blocks.dtype}${showDims(blocks.shape)}`);
    }
    const blockSize = ((blobBytes as number) * 8) / bits;
    if (blockSize !== QUANT_BLOCK) throw new ShapeMismatchError("matmulNBits", `blocks of ${blockSize} values; the quantized kernels use ${QUANT_BLOCK}`);
    const cols = (blockCount as number) * blockSize;
    if (x.dtype !== "float32" || x.shape[x.rank - 1] !== cols) {
      throw new ShapeMismatchError("matmulNBits", `x ${x.dtype}${showDims(x.shape)} against a [${rows}, ${cols}] matrix`);
    }
    if (scales.dtype !== "float32" || scales.rank !== 1 || scales.shape[0] !== (rows as number) * (blockCount as number)) {
      throw new ShapeMismatchError("matmulNBits", `scales must be float32 [${(rows as number) * (blockCount as number)}], got ${scales.dtype}${showDims(scales.shape)}`);
    }
    const op: Op = { kind: "matmulNBits", bits, blockSize };
    return this.append(op, [x.id, blocks.id, scales.id], "float32", [...x.shape.slice(0, -1), rows]);
  }

  build(outputs: Readonly<Record<string, SymbolicTensor>>): Graph {
    const outputIds = new Map(Object.entries(outputs).map(([name, tensor]) => [name, tensor.id]));
    return { nodes: [...this.nodes], inputs: new Map(this.inputIds), outputs: outputIds };
  }

  /** Appends a node whose shape the caller has already checked. */
  append(op: Op, inputs: readonly number[], dtype: DType, shape: Dims): SymbolicTensor {
    const node: Node = { id: this.nodes.length, op, inputs, dtype, shape: [...shape] };
    this.nodes.push(node);
    return new SymbolicTensor(this, node.id, dtype, node.shape);
  }

  nodeOf(tensor: SymbolicTensor): Node {
    return this.nodes[tensor.id]!;
  }
}

// Honours every dtype: `x.mul(0.5)` on a float16 tensor needs a float16 constant, not float32.
function scalarTensor(value: number, dtype: DType): HostTensor {
  switch (dtype) {
    case "int64":
      return HostTensor.int64([], [value]);
    case "int32":
      return HostTensor.int32([], [value]);
    case "bool":
      return new HostTensor("bool", [], Uint8Array.of(value ? 1 : 0));
    case "uint8":
      return new HostTensor("uint8", [], Uint8Array.of(value));
    case "float16":
    case "bfloat16":
      return HostTensor.float32([], [value]).toHalf(dtype);
    case "float32":
      return HostTensor.float32([], [value]);
  }
}

function sameDType(op: string, a: SymbolicTensor, b: SymbolicTensor): void {
  if (a.dtype !== b.dtype) throw new ShapeMismatchError(op, `dtypes differ: ${a.dtype} and ${b.dtype}`);
}

export type Operand = SymbolicTensor | number;

export class SymbolicTensor {
  constructor(
    readonly builder: GraphBuilder,
    readonly id: number,
    readonly dtype: DType,
    readonly shape: Dims,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  private operand(value: Operand): SymbolicTensor {
    return typeof value === "number" ? this.builder.scalar(value, this.dtype) : value;
  }

  private unary(op: UnaryOpName): SymbolicTensor {
    return this.builder.append({ kind: "unary", op }, [this.id], this.dtype, this.shape);
  }

  private binary(op: BinaryOpName, other: Operand): SymbolicTensor {
    const right = this.operand(other);
    sameDType(op, this, right);
    return this.builder.append({ kind: "binary", op }, [this.id, right.id], this.dtype, broadcastShapes(op, this.shape, right.shape));
  }

  private compare(op: CompareOpName, other: Operand): SymbolicTensor {
    const right = this.operand(other);
    sameDType(op, this, right);
    return this.builder.append({ kind: "compare", op }, [this.id, right.id], "bool", broadcastShapes(op, this.shape, right.shape));
  }

  add(other: Operand): SymbolicTensor {
    return this.binary("add", other);
  }

  sub(other: Operand): SymbolicTensor {
    return this.binary("sub", other);
  }

  mul(other: Operand): SymbolicTensor {
    return this.binary("mul", other);
  }

  div(other: Operand): SymbolicTensor {
    return this.binary("div", other);
  }

  pow(other: Operand): SymbolicTensor {
    return this.binary("pow", other);
  }

  maximum(other: Operand): SymbolicTensor {
    return this.binary("max", other);
  }

  minimum(other: Operand): SymbolicTensor {
    return this.binary("min", other);
  }

  neg(): SymbolicTensor {
    return this.unary("neg");
  }

  exp(): SymbolicTensor {
    return this.unary("exp");
  }

  log(): SymbolicTensor {
    return this.unary("log");
  }

  tanh(): SymbolicTensor {
    return this.unary("tanh");
  }

  erf(): SymbolicTensor {
    return this.unary("erf");
  }

  sqrt(): SymbolicTensor {
    return this.unary("sqrt");
  }

  rsqrt(): SymbolicTensor {
    return this.unary("rsqrt");
  }

  abs(): SymbolicTensor {
    return this.unary("abs");
  }

  cos(): SymbolicTensor {
    return this.unary("cos");
  }

  sin(): SymbolicTensor {
    return this.unary("sin");
  }

  less(other: Operand): SymbolicTensor {
    return this.compare("less", other);
  }

  lessOrEqual(other: Operand): SymbolicTensor {
    return this.compare("lessOrEqual", other);
  }

  greater(other: Operand): SymbolicTensor {
    return this.compare("greater", other);
  }

  greaterOrEqual(other: Operand): SymbolicTensor {
    return this.compare("greaterOrEqual", other);
  }

  equal(other: Operand): SymbolicTensor {
    return this.compare("equal", other);
  }

  cast(to: DType): SymbolicTensor {
    return to === this.dtype ? this : this.builder.append({ kind: "cast", to }, [this.id], to, this.shape);
  }

  matmul(other: SymbolicTensor): SymbolicTensor {
    sameDType("matmul", this, other);
    return this.builder.append({ kind: "matmul" }, [this.id, other.id], this.dtype, matmulShape(this.shape, other.shape));
  }

  private reduce(op: "sum" | "max", axes: number | readonly number[] | undefined, keepDims: boolean): SymbolicTensor {
    const list = axes === undefined ? this.shape.map((_, i) => i) : typeof axes === "number" ? [axes] : axes;
    const normalized = [...new Set(list.map((axis) => normalizeAxis(axis, this.rank, op)))].sort((a, b) => a - b);
    const shape = reduceShape(this.shape, normalized, keepDims);
    return this.builder.append({ kind: "reduce", op, axes: normalized, keepDims }, [this.id], this.dtype, shape);
  }

  sum(axes?: number | readonly number[], keepDims = false): SymbolicTensor {
    return this.reduce("sum", axes, keepDims);
  }

  max(axes?: number | readonly number[], keepDims = false): SymbolicTensor {
    return this.reduce("max", axes, keepDims);
  }

  mean(axes?: number | readonly number[], keepDims = false): SymbolicTensor {
    const list = axes === undefined ? this.shape.map((_, i) => i) : typeof axes === "number" ? [axes] : axes;
    const reduced = [...new Set(list.map((axis) => normalizeAxis(axis, this.rank, "mean")))].map((axis) => this.shape[axis]!);
    const count = dimProduct(reduced);
    if (typeof count !== "number") throw new ShapeMismatchError("mean", `over symbolic dims ${showDims(reduced)} of ${showDims(this.shape)}`);
    return this.sum(axes, keepDims).mul(1 / count);
  }

  softmax(axis = -1): SymbolicTensor {
    const normalized = normalizeAxis(axis, this.rank, "softmax");
    return this.builder.append({ kind: "softmax", axis: normalized }, [this.id], this.dtype, this.shape);
  }

  /** log(sum(exp(x))) along `axis`, computed stably by subtracting the maximum first. */
  logSumExp(axis = -1, keepDims = false): SymbolicTensor {
    const maximum = this.max(axis, true);
    const result = this.sub(maximum).exp().sum(axis, true).log().add(maximum);
    return keepDims ? result : result.reshape(reduceShape(this.shape, [normalizeAxis(axis, this.rank, "logSumExp")], false));
  }

  /** Entries of this [..., V] tensor along its last axis at integer `indices` [..., k]: [..., k]. */
  takeAlong(indices: SymbolicTensor): SymbolicTensor {
    checkAlongIndices("takeAlong", this.shape, indices);
    return this.builder.append({ kind: "takeAlong" }, [this.id, indices.id], this.dtype, indices.shape);
  }

  /** Rows of this [V, ...] table at integer `indices`: [...indices.shape, ...]. */
  gather(indices: SymbolicTensor): SymbolicTensor {
    if (indices.dtype !== "int32" && indices.dtype !== "int64") {
      throw new ShapeMismatchError("gather", `indices must be int32 or int64, got ${indices.dtype}`);
    }
    return this.builder.append({ kind: "gather" }, [this.id, indices.id], this.dtype, [...indices.shape, ...this.shape.slice(1)]);
  }

  reshape(shape: Dims): SymbolicTensor {
    const target = reshapeShape(this.shape, shape.map(dim));
    if (target.length === this.rank && target.every((d, i) => d === this.shape[i])) return this;
    return this.builder.append({ kind: "reshape", shape: target }, [this.id], this.dtype, target);
  }

  transpose(perm: readonly number[]): SymbolicTensor {
    const normalized = perm.map((axis) => normalizeAxis(axis, this.rank, "transpose"));
    if (normalized.every((axis, i) => axis === i)) return this;
    return this.builder.append({ kind: "transpose", perm: normalized }, [this.id], this.dtype, transposeShape(this.shape, normalized));
  }

  /** Half-open range [start, end) along one axis. */
  slice(axis: number, start: Dim, end: Dim): SymbolicTensor {
    const normalized = normalizeAxis(axis, this.rank, "slice");
    const op: Op = { kind: "slice", starts: [dim(start)], ends: [dim(end)], axes: [normalized] };
    return this.builder.append(op, [this.id], this.dtype, sliceShape(this.shape, op.starts, op.ends, [normalized]));
  }

  broadcastTo(shape: Dims): SymbolicTensor {
    const target = broadcastShapes("broadcastTo", this.shape, shape.map(dim));
    if (target.length !== shape.length || target.some((d, i) => d !== dim(shape[i]!))) {
      throw new ShapeMismatchError("broadcastTo", `[${this.shape.join(", ")}] to [${shape.join(", ")}]`);
    }
    return this.builder.append({ kind: "broadcastTo", shape: target }, [this.id], this.dtype, target);
  }
}

/** indices [..., k] must be integers with the leading dims of data [..., V]. */
function checkAlongIndices(op: string, dataShape: Dims, indices: SymbolicTensor): void {
  if (indices.dtype !== "int32" && indices.dtype !== "int64") throw new ShapeMismatchError(op, `indices must be int32 or int64, got ${indices.dtype}`);
  const lead = dataShape.slice(0, -1);
  if (dataShape.length === 0 || indices.shape.length !== dataShape.length || lead.some((d, i) => !dimEquals(d, indices.shape[i]!))) {
    throw new ShapeMismatchError(op, `indices [${indices.shape.join(", ")}] must have the leading dims of [${dataShape.join(", ")}]`);
  }
}
