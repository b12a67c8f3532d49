// The reference interpreter's values: every tensor, whatever its dtype, is held as a Float64Array
// (ints as exact integers up to 2^53, bools as 0/1), so each kernel is written once, in float64.
// After each op the result is brought back to its dtype: floats rounded (float32 by Math.fround)
// unless running in float64 for gradient checks, ints truncated toward zero like ONNX Cast.
import type { DType } from "../../tensor/dtype.js";
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from "../../tensor/half.js";
import { HostTensor, type Shape } from "../../tensor/host-tensor.js";

export interface Value {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: Float64Array;
}

/** A float tensor held in float64: what `runFloat64` takes and returns. */
export interface Float64Tensor {
  readonly shape: Shape;
  readonly data: Float64Array;
}

/**
 * "float32": each float op rounds its result to the node's dtype, so the oracle means what a
 * float32 graph means (for + - * / sqrt, float64 then one rounding is the correctly rounded
 * float32 result). "float64": floats are never rounded, for finite differences.
 */
export type Precision = "float32" | "float64";

export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float16" || dtype === "bfloat16";
}

/** The values of a host tensor as float64. */
export function fromHost(tensor: HostTensor): Float64Array {
  const out = new Float64Array(tensor.size);
  switch (tensor.dtype) {
    case "float32":
    case "int32":
    case "uint8":
      out.set(tensor.data as Float32Array | Int32Array | Uint8Array);
      break;
    case "float16": {
      const words = tensor.data as Uint16Array;
      for (let i = 0; i < out.length; i++) out[i] = float16ToFloat32(words[i]!);
      break;
    }
    case "bfloat16": {
      const words = tensor.data as Uint16Array;
      for (let i = 0; i < out.length; i++) out[i] = bfloat16ToFloat32(words[i]!);
      break;
    }
    case "int64": {
      const values = tensor.data as BigInt64Array;
      for (let i = 0; i < out.length; i++) out[i] = Number(values[i]!);
      break;
    }
    case "bool": {
      const flags = tensor.data as Uint8Array;
      for (let i = 0; i < out.length; i++) out[i] = flags[i] ? 1 : 0;
      break;
    }
  }
  return out;
}

/** A value as a host tensor of its dtype (the rounding already happened in `roundToDType`). */
export function toHost(value: Value): HostTensor {
  const { dtype, shape, data } = value;
  switch (dtype) {
    case "float32":
      return new HostTensor("float32", shape, Float32Array.from(data));
    case "float16":
      return new HostTensor("float16", shape, Uint16Array.from(data, (x) => float32ToFloat16(x)));
    case "bfloat16":
      return new HostTensor("bfloat16", shape, Uint16Array.from(data, (x) => float32ToBfloat16(x)));
    case "int32":
      return new HostTensor("int32", shape, Int32Array.from(data));
    case "int64":
      return new HostTensor("int64", shape, BigInt64Array.from(data, (x) => BigInt(x)));
    case "bool":
      return new HostTensor("bool", shape, Uint8Array.from(data));
    case "uint8":
      return new HostTensor("uint8", shape, Uint8Array.from(data));
  }
}

/**
 * Brings freshly computed float64 results into `dtype`, in place. Float to int truncates toward
 * zero as ONNX Cast does (NaN and infinities, undefined there, become 0); int32 wraps like
 * two's-complement arithmetic; anything to bool is `!= 0` (so NaN is true, as in C++).
 */
export function roundToDType(data: Float64Array, dtype: DType, precision: Precision): Float64Array {
  switch (dtype) {
    case "float32":
      if (precision === "float32") for (let i = 0; i < data.length; i++) data[i] = Math.fround(data[i]!);
      break;
    case "float16":
    case "bfloat16":
      if (precision === "float32") {
        // Through float32 first: the half encoders take float32 values. The double rounding can
        // differ from direct rounding only on exact float32 ties, which the oracle accepts.
        const encode = dtype === "float16" ? float32ToFloat16 : float32ToBfloat16;
        const decode = dtype === "float16" ? float16ToFloat32 : bfloat16ToFloat32;
        for (let i = 0; i < data.length; i++) data[i] = decode(encode(data[i]!));
      }
      break;
    case "int32":
      for (let i = 0; i < data.length; i++) data[i] = toInteger(data[i]!) | 0;
      break;
    case "int64":
      for (let i = 0; i < data.length; i++) data[i] = toInteger(data[i]!);
      break;
    case "bool":
      for (let i = 0; i < data.length; i++) data[i] = data[i] !== 0 ? 1 : 0;
      break;
    case "uint8":
      for (let i = 0; i < data.length; i++) data[i] = toInteger(data[i]!) & 255;
      break;
  }
  return data;
}

function toInteger(x: number): number {
  return Number.isFinite(x) ? Math.trunc(x) + 0 : 0; // + 0 turns -0 into 0
}
