// ONNX node attributes (onnx.proto's AttributeProto): one constructor per attribute type the
// lowering uses. Every attribute carries its `type`, which ONNX readers since IR 0.0.2 require.
import onnxProto from "onnx-proto";
import type { TensorProto } from "./tensor-proto.js";

const { onnx } = onnxProto;
const { AttributeType } = onnx.AttributeProto;
export type Attribute = onnxProto.onnx.IAttributeProto;

const utf8 = new TextEncoder();

export function intAttribute(name: string, value: number): Attribute {
  return { name, type: AttributeType.INT, i: value };
}

export function intsAttribute(name: string, values: readonly number[]): Attribute {
  return { name, type: AttributeType.INTS, ints: [...values] };
}

export function stringAttribute(name: string, value: string): Attribute {
  return { name, type: AttributeType.STRING, s: utf8.encode(value) };
}

export function tensorAttribute(name: string, value: TensorProto): Attribute {
  return { name, type: AttributeType.TENSOR, t: value };
}
