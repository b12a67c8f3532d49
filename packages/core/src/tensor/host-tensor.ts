// A tensor in host memory: a typed array, a shape (row-major, C order) and a dtype. This is what
// crosses every boundary: checkpoints load into it, backends take and return it.
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { allocate, type AnyTypedArray, type DType, type TypedArrayFor } from "./dtype.js";
import { float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from "./half.js";

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let size = 1;
  for (const dimension of shape) size *= dimension;
  return size;
}

export class HostTensor<D extends DType = DType> {
  constructor(
    readonly dtype: D,
    readonly shape: Shape,
    readonly data: TypedArrayFor<D>,
  ) {
    for (const dimension of shape) {
      if (!Number.isInteger(dimension) || dimension < 0) throw new InvalidArgumentError("shape", `[${shape.join(", ")}] has a bad dimension`);
    }
    if (data.length !== sizeOf(shape)) {
      throw new ShapeMismatchError("HostTensor", `${data.length} elements for shape [${shape.join(", ")}]`);
    }
  }

  static zeros<D extends DType>(dtype: D, shape: Shape): HostTensor<D> {
    return new HostTensor(dtype, shape, allocate(dtype, sizeOf(shape)));
  }

  static float32(shape: Shape, values?: ArrayLike<number>): HostTensor<"float32"> {
    const data = values ? Float32Array.from(values) : new Float32Array(sizeOf(shape));
    return new HostTensor("float32", shape, data);
  }

  static int32(shape: Shape, values: ArrayLike<number>): HostTensor<"int32"> {
    return new HostTensor("int32", shape, Int32Array.from(values));
  }

  static int64(shape: Shape, values: ArrayLike<number>): HostTensor<"int64"> {
    return new HostTensor("int64", shape, BigInt64Array.from(Array.from(values, (v) => BigInt(v))));
  }

  get size(): number {
    return this.data.length;
  }

  reshape(shape: Shape): HostTensor<D> {
    return new HostTensor(this.dtype, shape, this.data);
  }

  /** A float32 copy (or the same tensor when it already is float32). */
  toFloat32(): HostTensor<"float32"> {
    if (this.dtype === "float32") return this as unknown as HostTensor<"float32">;
    const out = new Float32Array(this.size);
    const data = this.data as AnyTypedArray;
    switch (this.dtype) {
      case "bfloat16": {
        // A bfloat16 is the top half of a float32: shift the bits (10x faster than a DataView per value).
        const bits = new Uint32Array(out.buffer);
        const words = data as Uint16Array;
        for (let i = 0; i < out.length; i++) bits[i] = words[i]! << 16;
        break;
      }
      case "float16":
        for (let i = 0; i < out.length; i++) out[i] = float16ToFloat32((data as Uint16Array)[i]!);
        break;
      case "int64":
        for (let i = 0; i < out.length; i++) out[i] = Number((data as BigInt64Array)[i]!);
        break;
      default:
        out.set(data as Int32Array | Uint8Array);
    }
    return new HostTensor("float32", this.shape, out);
  }

  /** This float32 tensor stored as float16 or bfloat16 words (round to nearest even). */
  toHalf(dtype: "float16" | "bfloat16"): HostTensor<typeof dtype> {
    const source = this.toFloat32().data;
    const out = new Uint16Array(source.length);
    const convert = dtype === "bfloat16" ? float32ToBfloat16 : float32ToFloat16;
    for (let i = 0; i < out.length; i++) out[i] = convert(source[i]!);
    return new HostTensor(dtype, this.shape, out);
  }
}

/** A tensor of `shape` sharing `tensor`'s memory from element `offset` on (what CPU backends' view is). */
export function hostView<D extends DType>(tensor: HostTensor<D>, offset: number, shape: Shape): HostTensor<D> {
  const size = sizeOf(shape);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > tensor.size) {
    throw new InvalidArgumentError("view", `[${shape.join(", ")}] from element ${offset} does not fit in a tensor of ${tensor.size}`);
  }
  return new HostTensor(tensor.dtype, shape, tensor.data.subarray(offset, offset + size) as HostTensor<D>["data"]);
}
