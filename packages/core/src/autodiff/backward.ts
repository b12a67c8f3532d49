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
  /**
   * Instead of one output per input, one output of this name: every gradient flattened and
   * concatenated in `wrt` order (for an optimiser that updates all weights as one flat buffer).
   */
  concatenated?: string;
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
  const softmaxGradients = logSumExps(graph);

  for (const node of [...graph.nodes].reverse()) {
    const grad = grads.get(node.id);
    if (grad === undefined || !onPath(node.id) || node.op.kind === "input" || node.op.kind === "constant") continue;
    const lse = softmaxGradients.get(node.id);
    if (lse) {
      // The max, exp, sum and log inside get no gradient of their own: g flows to x directly.
      accumulate(nodes.get(lse.x)!, tensorOf(lse.exp).mul(grad.div(tensorOf(lse.sum))), "logSumExp");
      continue;
    }
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
  const wrtGradients = wrtIds.map((id) => grads.get(id) ?? builder.scalar(0, tensorOf(id).dtype).broadcastTo(tensorOf(id).shape));
  if (options.concatenated !== undefined) {
    if (graph.outputs.has(options.concatenated)) throw new InvalidArgumentError("concatenated", `the graph already has an output '${options.concatenated}'`);
    outputs[options.concatenated] = builder.concat(wrtGradients.map((gradient) => gradient.reshape([-1])), 0);
  } else {
    options.wrt.forEach((name, i) => (outputs[`grad.${name}`] = wrtGradients[i]!));
  }
  return builder.build(outputs);
}

/**
 * The log-sum-exps of a graph as GraphBuilder.logSumExp traces them, by the id of their result:
 * m = max(x), y = log(sum(exp(x - m))) + m over the same axes, kept, where nothing else reads
 * m, x - m, the exp, the sum or the log. Their gradient is softmax(x) g = exp(x - m) / sum * g,
 * one pass reading the forward's own exp and sum. Op by op, the rules would send g through the
 * max too, where it cancels (the max only keeps exp in range; JAX stops its gradient): a tie
 * mask, a count, two selects and a broadcast, some ten passes over [..., V] for the log-softmax
 * of a language model's logits, its largest activation.
 */
function logSumExps(graph: Graph): Map<number, { x: number; exp: number; sum: number }> {
  const users = new Map<number, number[]>();
  for (const node of graph.nodes) {
    for (const id of node.inputs) {
      const list = users.get(id);
      if (list) list.push(node.id);
      else users.set(id, [node.id]);
    }
  }
  const outputs = new Set(graph.outputs.values());
  const node = (id: number): Node => graph.nodes[id]!;
  // The node's only reader, if it has exactly one and is no graph output.
  const onlyUser = (id: number): Node | undefined => {
    const list = users.get(id) ?? [];
    return list.length === 1 && !outputs.has(id) ? node(list[0]!) : undefined;
  };
  const sameAxes = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((axis, i) => axis === b[i]);
  const found = new Map<number, { x: number; exp: number; sum: number }>();
  for (const max of graph.nodes) {
    const op = max.op;
    if (op.kind !== "reduce" || op.op !== "max" || !op.keepDims || outputs.has(max.id)) continue;
    const x = max.inputs[0]!;
    const maxUsers = users.get(max.id) ?? [];
    if (maxUsers.length !== 2) continue;
    const shifted = node(maxUsers[0]!);
    const result = node(maxUsers[1]!);
    if (shifted.op.kind !== "binary" || shifted.op.op !== "sub" || shifted.inputs[0] !== x || shifted.inputs[1] !== max.id) continue;
    const exp = onlyUser(shifted.id);
    if (exp?.op.kind !== "unary" || exp.op.op !== "exp") continue;
    const sum = onlyUser(exp.id);
    if (sum?.op.kind !== "reduce" || sum.op.op !== "sum" || !sum.op.keepDims || !sameAxes(sum.op.axes, op.axes)) continue;
    const log = onlyUser(sum.id);
    if (log?.op.kind !== "unary" || log.op.op !== "log" || onlyUser(log.id) !== result) continue;
    if (result.op.kind !== "binary" || result.op.op !== "add" || result.inputs[0] !== log.id || result.inputs[1] !== max.id) continue;
    found.set(result.id, { x, exp: exp.id, sum: sum.id });
  }
  return found;
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
