// A small builder of ONNX graphs (onnx.proto via onnx-proto) whose dims may be symbolic dim_params
// such as "batch_size", so one session runs every batch size and length; src/graph's IR is traced
// with concrete shapes. Reshape targets are built at run time from Shape/Gather/Concat, as
// torch.onnx writes them for dynamic axes. TensorProtos and attributes come from backend/onnx.
import onnxProto from "onnx-proto";
import { intAttribute, intsAttribute, type Attribute } from "../../backend/onnx/attributes.js";
import { int64TensorProto, onnxElementType, tensorProto, type TensorProto } from "../../backend/onnx/tensor-proto.js";
import { moveToExternalData, type ExternalData, type ExternalDataOptions } from "../../backend/onnx/external-data.js";
import { InvalidArgumentError } from "../../errors.js";
import type { DType } from "../../tensor/dtype.js";
import { HostTensor } from "../../tensor/host-tensor.js";

const { onnx } = onnxProto;

/** A dimension: a size, or a dim_param name that the runtime binds from the inputs. */
export type Dim = number | string;

/** An ONNX value name. Values are plain names: a graph input, an initializer or a node output. */
export type Value = string;

/** One piece of a run-time shape: a 1-D int64 value (from dim()) or a known size. */
export type ShapePart = Value | number;

export interface ModelOptions {
  /** Default-domain opset; the ops used must exist unchanged there. */
  opset: number;
  graphName: string;
  producerName?: string;
}

/** onnx.proto's IR version of the ONNX release that introduced each opset range (as emit.ts). */
function irVersionFor(opset: number): number {
  return opset <= 17 ? 8 : opset <= 20 ? 9 : 10;
}

export class DynamicGraph {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  /** Shared constants and dims, so each is stored or computed once. */
  private readonly memo = new Map<string, Value>();
  private counter = 0;
  /** Bytes of initializer data: what counts against protobuf's 2 GiB limit. */
  initializerBytes = 0;

  input(name: string, dtype: DType, dims: readonly Dim[]): Value {
    this.claim(name);
    this.inputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /** Declares `value` as the graph output `name` (through Identity, which onnxruntime removes). */
  output(name: string, value: Value, dtype: DType, dims: readonly Dim[]): void {
    if (value !== name) {
      this.claim(name);
      this.nodes.push({ name: `${name}/Identity`, opType: "Identity", input: [value], output: [name] });
    }
    this.outputs.push(valueInfo(name, dtype, dims));
  }

  /** A named initializer; its bytes are referenced, not copied, until the model is encoded. */
  initializer(name: string, tensor: HostTensor): Value {
    this.claim(name);
    this.initializers.push(tensorProto(name, tensor));
    this.initializerBytes += tensor.data.byteLength;
    return name;
  }

  /** A 1-D int64 constant: axes, shape pieces, slice bounds. */
  int64s(values: readonly number[]): Value {
    return this.remember(`int64s:${values.join(",")}`, () => {
      const name = this.fresh("const_i64");
      this.initializers.push(int64TensorProto(name, values));
      return name;
    });
  }

  /** A 0-D constant (float32 or int64), broadcast against tensors of any rank. */
  scalar(value: number, dtype: "float32" | "int64" = "float32"): Value {
    return this.remember(`scalar:${dtype}:${value}`, () => {
      const name = this.fresh(dtype === "float32" ? "const_f32" : "const_i64");
      const tensor = dtype === "float32" ? HostTensor.float32([], [value]) : HostTensor.int64([], [value]);
      this.initializers.push(tensorProto(name, tensor));
      return name;
    });
  }

  /** One node with one output; returns the output's name. */
  op(opType: string, inputs: readonly Value[], attributes: readonly Attribute[] = []): Value {
    const output = this.fresh(opType);
    this.nodes.push({ name: `${output}/node`, opType, input: [...inputs], output: [output], attribute: [...attributes] });
    return output;
  }

  /** Dimension `axis` of `x` at run time, as a 1-D int64 tensor of one element (a shape piece). */
  dim(x: Value, axis: number): Value {
    return this.remember(`dim:${x}:${axis}`, () => this.op("Gather", [this.shapeOf(x), this.int64s([axis])], []));
  }

  /** Dimension `axis` of `x` at run time, as a 0-D int64 tensor (for Range and arithmetic). */
  scalarDim(x: Value, axis: number): Value {
    return this.remember(`scalarDim:${x}:${axis}`, () => this.op("Gather", [this.shapeOf(x), this.scalar(axis, "int64")], []));
  }

  /** x reshaped to the run-time shape made of these pieces. */
  reshape(x: Value, parts: readonly ShapePart[]): Value {
    if (parts.every((part) => typeof part === "number")) return this.op("Reshape", [x, this.int64s(parts as number[])]);
    const pieces = parts.map((part) => (typeof part === "number" ? this.int64s([part]) : part));
    const shape = this.remember(`target:${pieces.join(",")}`, () => this.op("Concat", pieces, [intAttribute("axis", 0)]));
    return this.op("Reshape", [x, shape]);
  }

  /** Unsqueeze with axes as an input (opset 13 and later). */
  unsqueeze(x: Value, axes: readonly number[]): Value {
    return this.op("Unsqueeze", [x, this.int64s(axes)]);
  }

  transpose(x: Value, perm: readonly number[]): Value {
    return this.op("Transpose", [x], [intsAttribute("perm", perm)]);
  }

  /** The last-axis slice [start, end) of x. */
  sliceLast(x: Value, start: number, end: number): Value {
    return this.op("Slice", [x, this.int64s([start]), this.int64s([end]), this.int64s([-1])]);
  }

  /** The ONNX model; with `externalData`, its large initializers are moved to the returned data file. */
  toModel(options: ModelOptions, externalData?: ExternalDataOptions): { model: Uint8Array; external: ExternalData | undefined } {
    if (this.outputs.length === 0) throw new InvalidArgumentError("graph", "has no outputs");
    const external = externalData ? moveToExternalData(this.initializers, externalData) : undefined;
    const model: onnxProto.onnx.IModelProto = {
      irVersion: irVersionFor(options.opset),
      opsetImport: [{ domain: "", version: options.opset }],
      producerName: options.producerName ?? "gemma-ts",
      graph: { name: options.graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    };
    const bytes = onnx.ModelProto.encode(model).finish();
    return { model: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), external };
  }

  private shapeOf(x: Value): Value {
    return this.remember(`shape:${x}`, () => this.op("Shape", [x]));
  }

  private remember(key: string, make: () => Value): Value {
    let value = this.memo.get(key);
    if (value === undefined) {
      value = make();
      this.memo.set(key, value);
    }
    return value;
  }

  /** Internal names carry a counter and a '/', which no graph input or output name here uses. */
  private fresh(hint: string): Value {
    const name = `/${hint}_${this.counter++}`;
    this.names.add(name);
    return name;
  }

  private claim(name: string): void {
    if (name.length === 0 || name.startsWith("/") || this.names.has(name)) {
      throw new InvalidArgumentError("graph", `the value name '${name}' is empty, reserved or taken`);
    }
    this.names.add(name);
  }
}

function valueInfo(name: string, dtype: DType, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: onnxElementType(dtype), shape: { dim } } } };
}
