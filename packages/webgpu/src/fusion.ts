// Elementwise fusion: a chain (or tree) of elementwise nodes of one shape becomes one strided-map
// kernel, each intermediate a WGSL `let` instead of a buffer written and read back. GeGLU's dozen
// ops, the soft-caps' divide-tanh-multiply, RMSNorm's tail and the AdamW update's arithmetic each
// become one launch. A node is inlined into its consumer when it is elementwise, read by that
// consumer alone, not an output, and of the consumer's shape (so both walk one index space; the
// group's leaves broadcast as usual). A reduce or softmax whose input is such a group (or one
// elementwise node) read by it alone evaluates the group where it reads its input: a prologue.
// The values are those of the unfused kernels, op for op.
import { dimEquals, type DType, type Graph, type Node } from "@gemma-ts/core";
import { binaryExpression, castExpression, compareExpression, unaryExpression, whereExpression } from "./elementwise-expressions.js";
import { operandName } from "./kernels/strided-map.js";

const ELEMENTWISE = new Set(["unary", "binary", "compare", "where", "cast"]);

export interface FusedGroup {
  /** The members in graph order, the root (the group's one materialized value) last. */
  readonly members: readonly Node[];
  /** Node ids the group reads, each once, in operand order. */
  readonly leaves: readonly number[];
}

/**
 * softmax(prologue(Q K^T)) V as one kernel (kernels/attention.ts): the scores matmul, the
 * elementwise prologue of the softmax (scale, soft-cap, mask), the softmax and the matmul by the
 * values, with the scores never stored.
 */
export interface AttentionGroup {
  /** matmul(queries [..., T, D], keys transposed [..., D, S]): the scores [..., T, S]. */
  readonly scores: Node;
  /** The softmax's prologue, one of whose leaves is `scores`; absent when the softmax reads the scores as they are. */
  readonly prologue: FusedGroup | undefined;
  readonly softmax: Node;
  /** matmul(probabilities, values [..., S, N]): the group's one materialized value. */
  readonly output: Node;
}

/** The largest value dimension (N, a head's width) the attention kernel accumulates in registers. */
export const ATTENTION_MAX_WIDTH = 256;

export interface FusionPlan {
  /** Attention groups, by the id of their output matmul. */
  readonly attention: ReadonlyMap<number, AttentionGroup>;
  /** Groups of two or more nodes, by root id. */
  readonly groups: ReadonlyMap<number, FusedGroup>;
  /** Elementwise groups (one node or more) read by a reduce or softmax alone, by that node's id: its prologue. */
  readonly prologues: ReadonlyMap<number, FusedGroup>;
  /** Nodes computed inside their group's kernel, never materialized. */
  readonly inlined: ReadonlySet<number>;
  /** The group root each inlined node belongs to. */
  readonly rootOf: ReadonlyMap<number, number>;
}

const isElementwise = (node: Node): boolean => ELEMENTWISE.has(node.op.kind) && node.dtype !== "uint8";

function sameShape(a: Node, b: Node): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => dimEquals(d, b.shape[i]!));
}

/** `maxLeaves`: the storage buffers a kernel may bind, less the metadata and the output. */
export function planFusion(graph: Graph, maxLeaves: number): FusionPlan {
  const byId = new Map(graph.nodes.map((node) => [node.id, node]));
  // The nodes reading each node (each reader once).
  const consumers = new Map<number, Node[]>();
  for (const node of graph.nodes) {
    for (const input of new Set(node.inputs)) {
      const list = consumers.get(input);
      if (list) list.push(node);
      else consumers.set(input, [node]);
    }
  }
  const readers = (id: number): number => consumers.get(id)?.length ?? 0;
  const outputs = new Set(graph.outputs.values());
  const leavesOf = (members: ReadonlySet<number>): Set<number> => new Set([...members].flatMap((id) => byId.get(id)!.inputs.filter((input) => !members.has(input))));
  /** The root and the producers it can inline, transitively; with a budget, none that would take the leaves past it. */
  const grow = (root: Node, budget: number): Set<number> => {
    const members = new Set<number>([root.id]);
    const leaves = new Set<number>(root.inputs);
    const pending = [root];
    while (pending.length > 0) {
      const member = pending.pop()!;
      for (const id of new Set(member.inputs)) {
        const input = byId.get(id)!;
        const inlinable = isElementwise(input) && readers(id) === 1 && !outputs.has(id) && sameShape(input, root) && !members.has(id);
        const added = new Set(input.inputs.filter((leaf) => !members.has(leaf) && !leaves.has(leaf))).size;
        if (!inlinable || leaves.size - 1 + added > budget) continue;
        leaves.delete(id);
        for (const leaf of input.inputs) if (!members.has(leaf)) leaves.add(leaf);
        members.add(id);
        pending.push(input);
      }
    }
    return members;
  };
  const groups = new Map<number, FusedGroup>();
  const inlined = new Set<number>();
  const rootOf = new Map<number, number>();
  for (let index = graph.nodes.length - 1; index >= 0; index--) {
    const root = graph.nodes[index]!;
    if (!isElementwise(root) || inlined.has(root.id)) continue;
    // The largest group first; if it reads too many leaves, grow it again checking each step.
    let members = grow(root, Infinity);
    if (leavesOf(members).size > maxLeaves) members = grow(root, maxLeaves);
    if (members.size === 1) continue;
    for (const id of members) {
      if (id === root.id) continue;
      inlined.add(id);
      rootOf.set(id, root.id);
    }
    const ordered = graph.nodes.filter((node) => members.has(node.id));
    // Leaves in first-use order, so one group's kernel source is stable across graphs.
    const leafOrder: number[] = [];
    for (const node of ordered) for (const input of node.inputs) if (!members.has(input) && !leafOrder.includes(input)) leafOrder.push(input);
    groups.set(root.id, { members: ordered, leaves: leafOrder });
  }
  // A reduce or softmax takes its input's group (or lone elementwise node) as a prologue.
  const prologues = new Map<number, FusedGroup>();
  for (const node of graph.nodes) {
    if (node.op.kind !== "reduce" && node.op.kind !== "softmax") continue;
    const input = byId.get(node.inputs[0]!)!;
    if (!isElementwise(input) || readers(input.id) !== 1 || outputs.has(input.id) || inlined.has(input.id)) continue;
    const group = groups.get(input.id) ?? { members: [input], leaves: [...new Set(input.inputs)] };
    if (group.leaves.length > maxLeaves || group.leaves.some((leaf) => byId.get(leaf)!.dtype === "uint8")) continue;
    groups.delete(input.id);
    prologues.set(node.id, group);
    for (const member of group.members) {
      inlined.add(member.id);
      rootOf.set(member.id, node.id);
    }
  }
  // softmax(prologue(Q K^T)) V: the scores matmul and the softmax join the values' matmul.
  const attention = new Map<number, AttentionGroup>();
  const alone = (node: Node) => readers(node.id) === 1 && !outputs.has(node.id) && node.dtype === "float32";
  for (const softmax of graph.nodes) {
    if (softmax.op.kind !== "softmax" || !alone(softmax)) continue;
    const rank = softmax.shape.length;
    if (softmax.op.axis !== -1 && softmax.op.axis !== rank - 1) continue;
    const output = consumers.get(softmax.id)![0]!;
    if (output.op.kind !== "matmul" || output.inputs[0] !== softmax.id || output.inputs[1] === softmax.id || output.dtype !== "float32") continue;
    const width = output.shape[output.shape.length - 1];
    if (typeof width !== "number" || width > ATTENTION_MAX_WIDTH) continue;
    const prologue = prologues.get(softmax.id);
    const candidates = (prologue ? prologue.leaves : softmax.inputs).map((id) => byId.get(id)!).filter((node) => node.op.kind === "matmul" && alone(node) && sameShape(node, softmax));
    if (candidates.length !== 1) continue;
    // Bindings: the metadata, queries, keys, values, the prologue's other leaves and the output.
    if (prologue && prologue.leaves.length - 1 + 3 > maxLeaves) continue;
    const scores = candidates[0]!;
    prologues.delete(softmax.id);
    for (const node of [scores, softmax, ...(prologue?.members ?? [])]) {
      inlined.add(node.id);
      rootOf.set(node.id, output.id);
    }
    attention.set(output.id, { scores, prologue, softmax, output });
  }
  return { attention, groups, prologues, inlined, rootOf };
}

/** The WGSL of one member, its operands a, b, c as the unfused kernel names them. */
function template(node: Node, dtypeOf: (id: number) => DType): string {
  const op = node.op;
  switch (op.kind) {
    case "unary":
      return unaryExpression(op.op, node.dtype);
    case "binary":
      return binaryExpression(op.op, node.dtype);
    case "compare":
      return compareExpression(op.op);
    case "where":
      return whereExpression(node.dtype);
    case "cast":
      return castExpression(dtypeOf(node.inputs[0]!), node.dtype);
    default:
      throw new Error(`${op.kind} is not elementwise`);
  }
}

/** The group as `let` statements and the root's expression, over the leaves named by operandName. */
export function fusedExpression(group: FusedGroup, dtypeOf: (id: number) => DType): { statements: string; expression: string } {
  const names = new Map<number, string>(group.leaves.map((id, o) => [id, operandName(o)]));
  const statements: string[] = [];
  let expression = "";
  group.members.forEach((member, index) => {
    const operands = member.inputs.map((id) => names.get(id)!);
    const code = template(member, dtypeOf).replace(/\b([abc])\b/g, (_, name: string) => operands["abc".indexOf(name)]!);
    if (index === group.members.length - 1) {
      expression = code;
    } else {
      // Named by position, not node id, so the same chain in every layer is one kernel source.
      const name = `v${index}`;
      statements.push(`  let ${name} = ${code};`);
      names.set(member.id, name);
    }
  });
  return { statements: statements.join("\n"), expression };
}
