// A traced computation: nodes in topological order (inputs always precede their users), named
// inputs and named outputs. Built by GraphBuilder, read by backends and by autodiff.
import type { DType } from "../tensor/dtype.js";
import type { Dims } from "./dims.js";
import type { Op } from "./ops.js";

export interface Node {
  readonly id: number;
  readonly op: Op;
  readonly inputs: readonly number[];
  readonly dtype: DType;
  readonly shape: Dims;
}

export interface Graph {
  readonly nodes: readonly Node[];
  /** Node id of each named input, in declaration order. */
  readonly inputs: ReadonlyMap<string, number>;
  /** Node id of each named output. */
  readonly outputs: ReadonlyMap<string, number>;
}

/** A stable text form of a graph: the cache key of compiled executables, and readable in tests. */
export function describeGraph(graph: Graph): string {
  const lines = graph.nodes.map((node) => {
    const { kind, ...attributes } = node.op;
    const detail = kind === "constant" ? `[${(node.op as { value: { shape: Dims } }).value.shape.join(",")}]` : JSON.stringify(attributes);
    return `%${node.id} = ${kind} ${detail} (${node.inputs.map((i) => `%${i}`).join(", ")}) : ${node.dtype}[${node.shape.join(",")}]`;
  });
  const outputs = [...graph.outputs].map(([name, id]) => `${name} = %${id}`);
  return [...lines, `outputs: ${outputs.join(", ")}`].join("\n");
}
