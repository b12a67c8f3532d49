// How each IR dtype lives in a GPU buffer. WGSL has 32-bit scalars only: floats (float16 and
// bfloat16 included, which the IR computes in float32 anyway) are f32, integers (int64 ids and
// positions) are i32, bools are u32 0/1, and uint8 (the blocks of quantized weights) are packed
// four to a u32 word. Uploading narrows int64 to i32 and refuses values that do not fit.
import {
  bfloat16ToFloat32,
  type DType,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  HostTensor,
  InvalidArgumentError,
  type Shape,
  sizeOf,
} from "@gemma-ts/core";

export type WgslScalar = "f32" | "i32" | "u32";

export function wgslScalar(dtype: DType): WgslScalar {
  switch (dtype) {
    case "float32":
    case "float16":
    case "bfloat16":
      return "f32";
    case "int32":
    case "int64":
      return "i32";
    case "bool":
    case "uint8":
      return "u32";
  }
}

/** Bytes a tensor of `size` elements takes on the GPU (at least 4: WebGPU binds no empty buffer). */
export function storageBytes(dtype: DType, size: number): number {
  const bytes = dtype === "uint8" ? Math.ceil(size / 4) * 4 : size * 4;
  return Math.max(4, bytes);
}

/** The host tensor's elements in their GPU form, ready for queue.writeBuffer. */
export function toGpuElements(tensor: HostTensor, what: string): Float32Array | Int32Array | Uint32Array | Uint8Array {
  const { dtype, data } = tensor;
  switch (dtype) {
    case "float32":
      return data as Float32Array;
    case "float16":
      return Float32Array.from(data as Uint16Array, float16ToFloat32);
    case "bfloat16":
      return Float32Array.from(data as Uint16Array, bfloat16ToFloat32);
    case "int32":
      return data as Int32Array;
    case "int64": {
      const source = data as BigInt64Array;
      const out = new Int32Array(source.length);
      for (let i = 0; i < source.length; i++) {
        const value = source[i]!;
        if (value > 2147483647n || value < -2147483648n) throw new InvalidArgumentError(what, `int64 value ${value} at ${i} does not fit the GPU's 32-bit integers`);
        out[i] = Number(value);
      }
      return out;
    }
    case "bool":
      return Uint32Array.from(data as Uint8Array);
    case "uint8": {
      const bytes = new Uint8Array(Math.ceil(data.length / 4) * 4);
      bytes.set(data as Uint8Array);
      return bytes;
    }
  }
}

/** A host tensor of `dtype` from the GPU words read back (`words` holds at least the tensor's bytes). */
export function fromGpuElements(dtype: DType, shape: Shape, words: ArrayBuffer): HostTensor {
  const size = sizeOf(shape);
  switch (dtype) {
    case "float32":
      return new HostTensor("float32", shape, new Float32Array(words, 0, size).slice());
    case "float16":
      return new HostTensor("float16", shape, Uint16Array.from(new Float32Array(words, 0, size), float32ToFloat16));
    case "bfloat16":
      return new HostTensor("bfloat16", shape, Uint16Array.from(new Float32Array(words, 0, size), float32ToBfloat16));
    case "int32":
      return new HostTensor("int32", shape, new Int32Array(words, 0, size).slice());
    case "int64":
      return new HostTensor("int64", shape, BigInt64Array.from(new Int32Array(words, 0, size), (v) => BigInt(v)));
    case "bool":
      return new HostTensor("bool", shape, Uint8Array.from(new Uint32Array(words, 0, size)));
    case "uint8":
      return new HostTensor("uint8", shape, new Uint8Array(words, 0, size).slice());
  }
}

/**
 * The aligned byte range holding a tensor of `size` elements at element `offset` (bytes for
 * uint8): copies between buffers need 4-byte offsets and sizes. `skip` is where the tensor starts
 * within the range; `bytes` is 0 for an empty tensor.
 */
export function readRange(dtype: DType, size: number, offset: number): { start: number; bytes: number; skip: number } {
  const byteOffset = dtype === "uint8" ? offset : offset * 4;
  const start = Math.floor(byteOffset / 4) * 4;
  const skip = byteOffset - start;
  const bytes = size === 0 ? 0 : Math.ceil((skip + (dtype === "uint8" ? size : size * 4)) / 4) * 4;
  return { start, bytes, skip };
}
