// An IR graph as an ONNX model (onnx.proto ModelProto, default-domain opset 17 or later): inputs
// keep their names, constants become initializers, every live node is lowered by lower-op.ts.
// Internal names are derived from node ids (`n12`, `%12`), so a graph always gives the same bytes.
import onnxProto from "onnx-proto";
import { InvalidArgumentError } from "../../errors.js";
import type { Graph, Node } from "../../graph/graph.js";
import type { DType } from "../../tensor/dtype.js";
import type { HostTensor, Shape } from "../../tensor/host-tensor.js";
import { tensorAttribute } from "./attributes.js";
import { lowerNode, type LoweringContext } from "./lower-op.js";
import { int64TensorProto, onnxElementType, tensorProto, type TensorProto } from "./tensor-proto.js";

const { onnx } = onnxProto;

export interface OnnxEmitOptions {
  /** IR constants as initializers (default; ORT pre-packs constant MatMul weights) or as Constant nodes. */
  constantsAsInitializers?: boolean;
  /** Default-domain opset, 17 to 21 (onnxruntime 1.30 runs all of them). Default 17. */
  opset?: number;
  /** The ONNX graph's name. Default "gemma-ts". */
  name?: string;
}

export const MIN_OPSET = 17;
export const MAX_OPSET = 21;

/** onnx.proto's IR version of the ONNX release that introduced each opset range. */
function irVersionFor(opset: number): number {
  return opset <= 17 ? 8 : opset <= 20 ? 9 : 10;
}

/** A protobuf message cannot exceed 2 GiB; larger weights must be graph inputs. */
const MAX_MODEL_BYTES = 2 ** 31 - 1;

export function graphToOnnx(graph: Graph, options: OnnxEmitOptions = {}): Uint8Array {
  const opset = options.opset ?? MIN_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new InvalidArgumentError("opset", `${opset} is not between ${MIN_OPSET} and ${MAX_OPSET}`);
  }
  checkNames(graph);
  const constantsAsInitializers = options.constantsAsInitializers ?? true;
  const live = liveNodes(graph);

  // An output takes over the value name of the node producing it, so ORT writes it in place rather
  // than through an Identity copy; inputs, constants and second names of one value need Identity.
  const outputNameOf = new Map<number, string>();
  for (const [name, id] of graph.outputs) {
    const kind = nodeAt(graph, id).op.kind;
    if (kind !== "input" && kind !== "constant" && !outputNameOf.has(id)) outputNameOf.set(id, name);
  }
  const valueName = (id: number): string => {
    const op = nodeAt(graph, id).op;
    return op.kind === "input" ? op.name : (outputNameOf.get(id) ?? `%${id}`);
  };

  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: TensorProto[] = [];
  let tensorBytes = 0;
  const addInitializer = (proto: TensorProto): void => {
    initializers.push(proto);
    tensorBytes += proto.rawData?.length ?? 0;
  };
  const ctx: LoweringContext = {
    opset,
    valueName,
    nodeAt: (id) => nodeAt(graph, id),
    addNode(opType, name, inputs, outputs, attributes = []) {
      nodes.push({ name, opType, input: [...inputs], output: [...outputs], attribute: [...attributes] });
    },
    addInt64(name, values) {
      addInitializer(int64TensorProto(name, values));
      return name;
    },
    addConstant(name: string, value: HostTensor) {
      if (constantsAsInitializers) addInitializer(tensorProto(name, value));
      else {
        ctx.addNode("Constant", name.replace("%", "n"), [], [name], [tensorAttribute("value", tensorProto("", value))]);
        tensorBytes += value.data.byteLength;
      }
    },
  };
  for (const node of graph.nodes) if (live[node.id]) lowerNode(node, ctx);

  const outputs: onnxProto.onnx.IValueInfoProto[] = [];
  for (const [name, id] of graph.outputs) {
    const node = nodeAt(graph, id);
    if (valueName(id) !== name) ctx.addNode("Identity", `output.${name}`, [valueName(id)], [name]);
    outputs.push(valueInfo(name, node.dtype, node.shape));
  }
  const inputs = [...graph.inputs].map(([name, id]) => valueInfo(name, nodeAt(graph, id).dtype, nodeAt(graph, id).shape));

  if (tensorBytes > MAX_MODEL_BYTES) {
    throw new InvalidArgumentError("graph", `${tensorBytes} bytes of constants exceed protobuf's 2 GiB limit; pass the weights as inputs`);
  }
  const model: onnxProto.onnx.IModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: "", version: opset }],
    producerName: "gemma-ts",
    graph: { name: options.name ?? "gemma-ts", node: nodes, initializer: initializers, input: inputs, output: outputs },
  };
  const bytes = onnx.ModelProto.encode(model).finish();
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function nodeAt(graph: Graph, id: number): Node {
  const node = graph.nodes[id];
  if (node === undefined || node.id !== id) throw new InvalidArgumentError("graph", `no node %${id} (nodes must be indexed by id)`);
  return node;
}

/** Nodes that some output depends on. Nodes are topologically sorted, so one backward sweep finds them. */
function liveNodes(graph: Graph): boolean[] {
  const live = graph.nodes.map(() => false);
  for (const id of graph.outputs.values()) live[nodeAt(graph, id).id] = true;
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    if (!live[id]) continue;
    for (const input of nodeAt(graph, id).inputs) live[input] = true;
  }
  return live;
}

/** Graph inputs and outputs share one namespace with internal values, which all start with '%'. */
function checkNames(graph: Graph): void {
  if (graph.outputs.size === 0) throw new InvalidArgumentError("graph", "has no outputs");
  for (const name of [...graph.inputs.keys(), ...graph.outputs.keys()]) {
    if (name.length === 0 || name.startsWith("%")) throw new InvalidArgumentError(name, "input and output names must be non-empty and not start with '%'");
  }
  for (const [name, id] of graph.outputs) {
    const input = graph.inputs.get(name);
    if (input !== undefined && input !== id) throw new InvalidArgumentError(name, "names both an input and a different output");
  }
}

function valueInfo(name: string, dtype: DType, shape: Shape): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: onnxElementType(dtype), shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  };
}
