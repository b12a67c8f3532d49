// IR dtypes as ONNX element types, and HostTensors as ONNX TensorProtos. Tensor contents go in
// `raw_data`, little-endian as onnx.proto requires for every type (bool one byte per element),
// which is also the layout ORT copies initializers from without per-element conversion.
import onnxProto from "onnx-proto";
import type { DType } from "../../tensor/dtype.js";
import type { HostTensor } from "../../tensor/host-tensor.js";

const { onnx } = onnxProto;
export type TensorProto = onnxProto.onnx.ITensorProto;

const ELEMENT_TYPES: Readonly<Record<DType, number>> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  bfloat16: onnx.TensorProto.DataType.BFLOAT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
};

export function onnxElementType(dtype: DType): number {
  return ELEMENT_TYPES[dtype];
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of a typed array in little-endian order: a view on little-endian hosts, a copy otherwise. */
function littleEndianBytes(data: HostTensor["data"]): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const width = data.BYTES_PER_ELEMENT;
  if (LITTLE_ENDIAN_HOST || width === 1) return bytes;
  const swapped = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) {
    for (let j = 0; j < width; j++) swapped[i + j] = bytes[i + width - 1 - j]!;
  }
  return swapped;
}

export function tensorProto(name: string, tensor: HostTensor): TensorProto {
  // ONNX bools are the bytes 0 and 1; a HostTensor may hold any non-zero byte for true.
  const data = tensor.dtype === "bool" ? Uint8Array.from(tensor.data as Uint8Array, (v) => (v === 0 ? 0 : 1)) : tensor.data;
  return { name, dataType: onnxElementType(tensor.dtype), dims: [...tensor.shape], rawData: littleEndianBytes(data) };
}

/** A 1-D int64 tensor: the shapes, axes and ranges that ONNX ops take as inputs. */
export function int64TensorProto(name: string, values: readonly number[]): TensorProto {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return { name, dataType: onnx.TensorProto.DataType.INT64, dims: [values.length], rawData: littleEndianBytes(data) };
}
