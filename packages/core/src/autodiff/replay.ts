// Copies a graph's nodes into a GraphBuilder, so a derived graph (forward plus backward) can be
// traced on top of them. Shapes were checked when the graph was first traced, so nodes are
// appended as they are; inputs are re-declared by name so the new graph keeps its interface.
import { InvalidArgumentError } from "../errors.js";
import type { GraphBuilder, SymbolicTensor } from "../graph/builder.js";
import type { Graph } from "../graph/graph.js";

/** Appends every node of `graph` to `builder`; returns the new tensor of each original node id. */
export function replay(graph: Graph, builder: GraphBuilder): Map<number, SymbolicTensor> {
  const tensors = new Map<number, SymbolicTensor>();
  const lookup = (id: number, user: number): number => {
    const tensor = tensors.get(id);
    if (tensor === undefined) throw new InvalidArgumentError("graph", `node %${user} reads %${id}, which does not precede it`);
    return tensor.id;
  };
  for (const node of graph.nodes) {
    const op = node.op;
    const tensor =
      op.kind === "input"
        ? builder.input(op.name, node.dtype, node.shape)
        : builder.append(op, node.inputs.map((id) => lookup(id, node.id)), node.dtype, node.shape);
    tensors.set(node.id, tensor);
  }
  return tensors;
}
