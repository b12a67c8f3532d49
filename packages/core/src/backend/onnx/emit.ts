// An IR graph as an ONNX model (onnx.proto ModelProto, default-domain opset 17 or later): inputs
// keep their names, constants become initializers, every live node is lowered by lower-op.ts.
// Internal names are derived from node ids (`n12`, `%12`), so a graph always gives the same bytes.
// Symbolic dims become dim_params of the inputs and outputs ("past + seq"); where an op needs one as a value
// (a Reshape target, a Slice end), it is read off an input with Shape and combined with Mul/Add.
import onnxProto from "onnx-proto";
import { InvalidArgumentError } from "../../errors.js";
import type { Graph, Node } from "../../graph/graph.js";
import { dim, dimTerms, isSymbolicName, type Dim, type Dims } from "../../graph/dims.js";
import type { DType } from "../../tensor/dtype.js";
import type { HostTensor } from "../../tensor/host-tensor.js";
import { intAttribute, tensorAttribute, type Attribute } from "./attributes.js";
import { moveToExternalData, type ExternalData, type ExternalDataOptions } from "./external-data.js";
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

/** A model whose large initializers live in a separate data file. */
export interface OnnxWithExternalData {
  model: Uint8Array;
  external: ExternalData;
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
  return emitModel(graph, options, undefined).model;
}

/** graphToOnnx with the initializers of at least `external.minBytes` in a data file: no 2 GiB limit. */
export function graphToOnnxWithExternalData(graph: Graph, external: ExternalDataOptions, options: OnnxEmitOptions = {}): OnnxWithExternalData {
  return emitModel(graph, { ...options, constantsAsInitializers: true }, external);
}

function emitModel(graph: Graph, options: OnnxEmitOptions, external: ExternalDataOptions | undefined): OnnxWithExternalData {
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
  const domains = new Set<string>();
  const initializers: TensorProto[] = [];
  let constantNodeBytes = 0;
  const addInitializer = (proto: TensorProto): void => {
    initializers.push(proto);
  };
  const shapeValues = new ShapeValues(graph, (opType, name, inputs, outputs, attributes) => ctx.addNode(opType, name, inputs, outputs, attributes), (name, values) => ctx.addInt64(name, values));
  const ctx: LoweringContext = {
    opset,
    valueName,
    nodeAt: (id) => nodeAt(graph, id),
    addNode(opType, name, inputs, outputs, attributes = [], domain = "") {
      nodes.push({ name, opType, input: [...inputs], output: [...outputs], attribute: [...attributes], ...(domain ? { domain } : {}) });
      if (domain) domains.add(domain);
    },
    addInt64(name, values) {
      addInitializer(int64TensorProto(name, values));
      return name;
    },
    dims(dims, name) {
      return dims.every((d) => typeof d === "number") ? ctx.addInt64(name, dims as number[]) : shapeValues.concat(dims);
    },
    addConstant(name: string, value: HostTensor) {
      if (constantsAsInitializers) addInitializer(tensorProto(name, value));
      else {
        ctx.addNode("Constant", name.replace("%", "n"), [], [name], [tensorAttribute("value", tensorProto("", value))]);
        constantNodeBytes += value.data.byteLength;
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

  const externalData = external ? moveToExternalData(initializers, external) : { chunks: [], bytes: 0 };
  const tensorBytes = constantNodeBytes + initializers.reduce((sum, proto) => sum + (proto.rawData?.length ?? 0), 0);
  if (tensorBytes > MAX_MODEL_BYTES) {
    throw new InvalidArgumentError("graph", `${tensorBytes} bytes of constants exceed protobuf's 2 GiB limit; pass the weights as inputs or as external data`);
  }
  const model: onnxProto.onnx.IModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: "", version: opset }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
    producerName: "gemma-ts",
    graph: { name: options.name ?? "gemma-ts", node: nodes, initializer: initializers, input: inputs, output: outputs },
  };
  const bytes = onnx.ModelProto.encode(model).finish();
  return { model: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), external: externalData };
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

function valueInfo(name: string, dtype: DType, shape: Dims): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: { elemType: onnxElementType(dtype), shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: dimParam(d) })) } },
    },
  };
}

/**
 * A symbolic dim as ONNX writers spell it, spaces around '+' and '-' (Optimum's
 * "past_sequence_length + sequence_length"); dims.ts reads it back either way.
 */
function dimParam(value: string): string {
  return value.replace(/(?<=[^+*-])([+-])/g, " $1 ");
}

type AddNode = (opType: string, name: string, inputs: readonly string[], outputs: readonly string[], attributes?: readonly Attribute[]) => void;

/**
 * Symbolic dims as run-time values: each name is read off the first graph input that has it as
 * a dimension (Shape with start/end, opset 15+), expressions are built with Mul and Add, and
 * every value is made once per model.
 */
class ShapeValues {
  private readonly sources = new Map<string, [input: string, axis: number]>();
  private readonly made = new Map<string, string>();

  constructor(
    graph: Graph,
    private readonly addNode: AddNode,
    private readonly addInt64: (name: string, values: readonly number[]) => string,
  ) {
    for (const [name, id] of graph.inputs) {
      nodeAt(graph, id).shape.forEach((d, axis) => {
        if (typeof d === "string" && isSymbolicName(d) && !this.sources.has(d)) this.sources.set(d, [name, axis]);
      });
    }
  }

  /** A 1-D int64 value holding `dims`. */
  concat(dims: Dims): string {
    const key = `[${dims.join(",")}]`;
    return this.once(key, (name) => this.addNode("Concat", `${name}.concat`, dims.map((d) => this.scalar(d)), [name], [intAttribute("axis", 0)]));
  }

  /** A 1-element int64 value holding `value`. */
  scalar(value: Dim): string {
    const canonical = dim(value);
    const text = String(canonical);
    return this.once(text, (name) => {
      if (typeof canonical === "number") {
        this.addInt64(name, [canonical]);
        return;
      }
      if (isSymbolicName(text)) {
        const source = this.sources.get(text);
        if (source === undefined) throw new InvalidArgumentError("graph", `dim '${text}' is not the dimension of any input`);
        this.addNode("Shape", `${name}.shape`, [source[0]], [name], [intAttribute("start", source[1]), intAttribute("end", source[1] + 1)]);
        return;
      }
      // A polynomial: the sum of its terms, each a coefficient times a product of names.
      const termValues = dimTerms(text).map(({ coefficient, names }) => {
        let product = names.length > 0 ? this.scalar(names[0]!) : this.scalar(coefficient);
        for (const factor of names.slice(1)) product = this.binary("Mul", product, this.scalar(factor));
        if (names.length > 0 && coefficient !== 1) product = this.binary("Mul", product, this.scalar(coefficient));
        return product;
      });
      // Add rather than Sum: onnxruntime's Sum has no int64 kernel.
      let total = termValues[0]!;
      for (const term of termValues.slice(1, -1)) total = this.binary("Add", total, term);
      if (termValues.length === 1) this.addNode("Identity", `${name}.identity`, [total], [name]);
      else this.addNode("Add", `${name}.add`, [total, termValues[termValues.length - 1]!], [name]);
    });
  }

  private binary(opType: string, a: string, b: string): string {
    return this.once(`${opType}(${a},${b})`, (name) => this.addNode(opType, `${name}.${opType}`, [a, b], [name]));
  }

  private once(key: string, make: (name: string) => void): string {
    let name = this.made.get(key);
    if (name === undefined) {
      name = `%dim${this.made.size}`;
      this.made.set(key, name);
      make(name);
    }
    return name;
  }
}
