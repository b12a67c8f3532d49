// The reference interpreter: walks a graph's nodes in order, runs each through its kernel in
// float64 and rounds the result to the node's dtype (per `Precision`). A plan made once per graph
// checks the graph's wiring and records each value's last use, so intermediates are dropped early.
import { InvalidArgumentError, ShapeMismatchError } from "../../errors.js";
import { evaluateDim, evaluateDims, type DimBindings } from "../../graph/dims.js";
import type { Graph, Node } from "../../graph/graph.js";
import * as elementwise from "./elementwise.js";
import { concat, broadcastTo, gather, reshape, scatterAdd, scatterAlong, slice, takeAlong, transpose } from "./indexing.js";
import { matmul, matmulNBits } from "./matmul.js";
import { reduce, softmax } from "./reduce.js";
import { fromHost, roundToDType, type Precision, type Value } from "./value.js";

export interface Plan {
  readonly graph: Graph;
  /** Constants as float64, converted once. */
  readonly constants: ReadonlyMap<number, Float64Array>;
  /** Node ids whose values can be dropped after node `id` ran, keyed by `id`. */
  readonly releases: ReadonlyMap<number, readonly number[]>;
}

export function plan(graph: Graph): Plan {
  const seen = new Set<number>();
  const lastUse = new Map<number, number>();
  const constants = new Map<number, Float64Array>();
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      // Backends rely on topological order; a hand-built graph might not have it.
      if (!seen.has(input)) throw new InvalidArgumentError("graph", `node %${node.id} reads %${input}, which does not precede it`);
      lastUse.set(input, node.id);
    }
    if (seen.has(node.id)) throw new InvalidArgumentError("graph", `node id %${node.id} appears twice`);
    seen.add(node.id);
    if (node.op.kind === "constant") constants.set(node.id, fromHost(node.op.value));
  }
  for (const node of graph.nodes) if (!lastUse.has(node.id)) lastUse.set(node.id, node.id); // unused: drop at once
  for (const [name, id] of graph.outputs) {
    if (!seen.has(id)) throw new InvalidArgumentError("graph", `output '${name}' is %${id}, which is not a node`);
    lastUse.delete(id); // outputs live to the end
  }
  const releases = new Map<number, number[]>();
  for (const [id, last] of lastUse) releases.set(last, [...(releases.get(last) ?? []), id]);
  return { graph, constants, releases };
}

/**
 * Runs the plan on checked inputs (float64 values by input name) and returns the outputs.
 * `dims` binds the graph's symbolic dims (from the inputs' shapes).
 */
export function interpret(plan: Plan, inputs: ReadonlyMap<string, Float64Array>, precision: Precision, dims: DimBindings): Map<string, Value> {
  const values = new Map<number, Value>();
  const valueAt = (id: number): Value => values.get(id)!;
  for (const node of plan.graph.nodes) {
    const shape = evaluateDims(node.shape, dims);
    checkRunTimeShape(node, shape, dims);
    const data = evaluate(node, shape, node.inputs.map(valueAt), plan, inputs, dims);
    values.set(node.id, { dtype: node.dtype, shape, data: roundToDType(data, node.dtype, precision) });
    for (const id of plan.releases.get(node.id) ?? []) values.delete(id);
  }
  return new Map([...plan.graph.outputs].map(([name, id]) => [name, valueAt(id)]));
}

/** The node's result in float64, before rounding to its dtype. Kernels never alias their inputs. */
function evaluate(
  node: Node,
  shape: readonly number[],
  args: readonly Value[],
  plan: Plan,
  inputs: ReadonlyMap<string, Float64Array>,
  dims: DimBindings,
): Float64Array {
  const op = node.op;
  const [a, b, c] = args as [Value, Value, Value];
  switch (op.kind) {
    case "input":
      return Float64Array.from(inputs.get(op.name)!);
    case "constant":
      return Float64Array.from(plan.constants.get(node.id)!);
    case "range": {
      const start = evaluateDim(op.start, dims);
      return Float64Array.from({ length: shape[0]! }, (_, i) => start + i);
    }
    case "unary":
      return elementwise.unary(op.op, a);
    case "binary":
      return elementwise.binary(op.op, a, b, shape);
    case "compare":
      return elementwise.compare(op.op, a, b, shape);
    case "where":
      return elementwise.where(a, b, c, shape);
    case "cast":
      return elementwise.cast(a);
    case "matmul":
      return matmul(a, b, shape);
    case "matmulNBits":
      return matmulNBits(a, b, c, op.bits, shape);
    case "reduce":
      return reduce(op.op, a, op.axes);
    case "softmax":
      return softmax(a, op.axis);
    case "gather":
      return gather(a, b);
    case "scatterAdd":
      return scatterAdd(a, b, op.rows);
    case "takeAlong":
      return takeAlong(a, b);
    case "scatterAlong":
      return scatterAlong(a, b, shape[shape.length - 1]!);
    case "reshape":
      return reshape(a);
    case "transpose":
      return transpose(a, op.perm, shape);
    case "slice":
      return checkedSlice(node, a, evaluateDims(op.starts, dims), evaluateDims(op.ends, dims), op.axes, shape);
    case "concat":
      return concat(args, op.axis, shape);
    case "broadcastTo":
      return broadcastTo(a, shape);
  }
}

/**
 * Symbolic dims are checked by the shape rules only where they are numbers; at run time a dim
 * below zero, or a slice past its input's end, is an error here (onnxruntime would clamp silently).
 */
function checkRunTimeShape(node: Node, shape: readonly number[], dims: DimBindings): void {
  if (shape.some((d) => d < 0)) {
    throw new ShapeMismatchError(`node %${node.id} (${node.op.kind})`, `negative dimension in [${shape.join(", ")}] with ${[...dims].map(([n, v]) => `${n}=${v}`).join(", ")}`);
  }
}

function checkedSlice(node: Node, input: Value, starts: readonly number[], ends: readonly number[], axes: readonly number[], shape: readonly number[]): Float64Array {
  axes.forEach((axis, i) => {
    const size = input.shape[axis]!;
    if (starts[i]! < 0 || ends[i]! > size || starts[i]! > ends[i]!) {
      throw new ShapeMismatchError(`node %${node.id} (slice)`, `range [${starts[i]}, ${ends[i]}) on axis ${axis} of size ${size}`);
    }
  });
  return slice(input, starts, axes, shape);
}
