// Reverse-mode autodiff on the IR: `gradients` replays a graph into a new builder, then sweeps its
// nodes in reverse topological order applying each op's rule (gradients.ts) and summing the
// contributions of a node's several users. Forward and backward come out as ONE graph, so a
// backend compiles and runs them together (as jax.value_and_grad traces one computation).
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { GraphBuilder, type SymbolicTensor } from "../graph/builder.js";
import type { Graph, Node } from "../graph/graph.js";
import { dimEquals } from "../graph/dims.js";
import { GRADIENT_RULES, isFloatDType, type GradientContext, type InputGradients } from "./gradients.js";
import { replay } from "./replay.js";

export interface GradientOptions {
  /** The output to differentiate: a float scalar (rank 0, or any shape of size 1). */
  loss: string;
  /** Float inputs to differentiate with respect to; each adds an output `grad.<name>`. */
  wrt: readonly string[];
}

/**
 * A new graph computing `graph`'s outputs plus `grad.<name>` = d loss / d input for each `wrt`
 * input, shaped like that input. An input the loss does not depend on gets zeros.
 */
export function gradients(graph: Graph, options: GradientOptions): Graph {
  const nodes = new Map(graph.nodes.map((node) => [node.id, node]));
  const lossId = checkLoss(graph, nodes, options.loss);
  const wrtIds = checkWrt(graph, nodes, options.wrt);

  // Only nodes on a path from a wrt input to the loss get gradients: reachable from wrt through
  // float values (an int or bool value cuts the path), and read, transitively, by the loss.
  const fromWrt = new Set(wrtIds);
  for (const node of graph.nodes) {
    if (isFloatDType(node.dtype) && node.inputs.some((id) => fromWrt.has(id))) fromWrt.add(node.id);
  }
  const toLoss = new Set([lossId]);
  for (const node of [...graph.nodes].reverse()) if (toLoss.has(node.id)) node.inputs.forEach((id) => toLoss.add(id));
  const onPath = (id: number): boolean => fromWrt.has(id) && toLoss.has(id);

  const builder = new GraphBuilder();
  const tensors = replay(graph, builder);
  const tensorOf = (id: number): SymbolicTensor => tensors.get(id)!;

  const grads = new Map<number, SymbolicTensor>();
  const accumulate = (node: Node, gradient: SymbolicTensor, from: string): void => {
    // A rule returning the wrong shape would otherwise surface far away, or broadcast silently.
    if (gradient.shape.length !== node.shape.length || gradient.shape.some((d, i) => !dimEquals(d, node.shape[i]!))) {
      throw new ShapeMismatchError(`gradient rule of ${from}`, `gave [${gradient.shape.join(", ")}] for a [${node.shape.join(", ")}] input`);
    }
    const existing = grads.get(node.id);
    grads.set(node.id, existing ? existing.add(gradient) : gradient);
  };

  const loss = tensorOf(lossId);
  if (onPath(lossId)) grads.set(lossId, builder.scalar(1, loss.dtype).reshape(loss.shape));

  for (const node of [...graph.nodes].reverse()) {
    const grad = grads.get(node.id);
    if (grad === undefined || !onPath(node.id) || node.op.kind === "input" || node.op.kind === "constant") continue;
    const needs = node.inputs.map(onPath);
    if (!needs.some(Boolean)) continue;
    const context: GradientContext = { op: node.op, inputs: node.inputs.map(tensorOf), output: tensorOf(node.id), grad, needs };
    const rule = GRADIENT_RULES[node.op.kind] as (context: GradientContext) => InputGradients;
    const inputGradients = rule(context);
    node.inputs.forEach((id, i) => {
      const gradient = inputGradients[i];
      if (needs[i] && gradient !== undefined) accumulate(nodes.get(id)!, gradient, node.op.kind);
    });
  }

  const outputs: Record<string, SymbolicTensor> = {};
  for (const [name, id] of graph.outputs) outputs[name] = tensorOf(id);
  for (const [i, name] of options.wrt.entries()) {
    const input = tensorOf(wrtIds[i]!);
    outputs[`grad.${name}`] = grads.get(wrtIds[i]!) ?? builder.scalar(0, input.dtype).broadcastTo(input.shape);
  }
  return builder.build(outputs);
}

function checkLoss(graph: Graph, nodes: ReadonlyMap<number, Node>, loss: string): number {
  const id = graph.outputs.get(loss);
  if (id === undefined) throw new InvalidArgumentError("loss", `'${loss}' is not an output of the graph (outputs: ${[...graph.outputs.keys()].join(", ")})`);
  const node = nodes.get(id)!;
  if (!isFloatDType(node.dtype) || node.shape.some((d) => d !== 1)) {
    throw new InvalidArgumentError("loss", `'${loss}' must be a float scalar (rank 0 or size 1), got ${node.dtype}[${node.shape.join(", ")}]`);
  }
  return id;
}

function checkWrt(graph: Graph, nodes: ReadonlyMap<number, Node>, wrt: readonly string[]): number[] {
  return wrt.map((name, i) => {
    const id = graph.inputs.get(name);
    if (id === undefined) throw new InvalidArgumentError("wrt", `'${name}' is not an input of the graph`);
    if (wrt.indexOf(name) !== i) throw new InvalidArgumentError("wrt", `'${name}' is listed twice`);
    const node = nodes.get(id)!;
    if (!isFloatDType(node.dtype)) throw new InvalidArgumentError("wrt", `'${name}' is ${node.dtype}; gradients need a float input`);
    if (graph.outputs.has(`grad.${name}`)) throw new InvalidArgumentError("wrt", `the graph already has an output 'grad.${name}'`);
    return id;
  });
}
