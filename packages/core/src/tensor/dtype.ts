// Element types. Computation happens in float32 (and int32/int64 for ids); float16 and bfloat16
// exist for storage (checkpoints, GGUF, ONNX weights) and are held as raw 16-bit words; uint8
// holds the packed blocks of quantized weights.

export type DType = "float32" | "float16" | "bfloat16" | "int32" | "int64" | "bool" | "uint8";

export type TypedArrayFor<D extends DType> = D extends "float32"
  ? Float32Array
  : D extends "float16" | "bfloat16"
    ? Uint16Array
    : D extends "int32"
      ? Int32Array
      : D extends "int64"
        ? BigInt64Array
        : Uint8Array;

export type AnyTypedArray = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
  uint8: 1,
};

export function allocate<D extends DType>(dtype: D, size: number): TypedArrayFor<D> {
  switch (dtype) {
    case "float32":
      return new Float32Array(size) as TypedArrayFor<D>;
    case "float16":
    case "bfloat16":
      return new Uint16Array(size) as TypedArrayFor<D>;
    case "int32":
      return new Int32Array(size) as TypedArrayFor<D>;
    case "int64":
      return new BigInt64Array(size) as TypedArrayFor<D>;
    case "bool":
    case "uint8":
      return new Uint8Array(size) as TypedArrayFor<D>;
  }
  throw new Error(`unreachable dtype ${String(dtype)}`);
}
