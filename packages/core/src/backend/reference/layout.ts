// Row-major (C order) index arithmetic shared by the reference kernels: strides, and for numpy
// broadcasting the flat source index of every element of a broadcast result. Materialising those
// indices costs memory but keeps each kernel a plain loop, which is what an oracle wants.
import { sizeOf, type Shape } from "../../tensor/host-tensor.js";

export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let axis = shape.length - 2; axis >= 0; axis--) strides[axis] = strides[axis + 1]! * shape[axis + 1]!;
  return strides;
}

/**
 * For each element of `outShape` (row-major), the flat index of the element of `inShape` that
 * numpy broadcasting reads: axes are aligned from the right, and a size-1 (or missing) input axis
 * repeats. The caller has checked that the shapes broadcast.
 */
export function broadcastSource(inShape: Shape, outShape: Shape): Int32Array | undefined {
  const size = sizeOf(outShape);
  const sameShape = inShape.length === outShape.length && inShape.every((d, i) => d === outShape[i]);
  if (sameShape) return undefined; // identity: callers index directly
  const rank = outShape.length;
  const offset = rank - inShape.length;
  const inStrides = stridesOf(inShape);
  // Stride of each output axis in the input: 0 where the input repeats along it.
  const strides = outShape.map((_, axis) => {
    const inAxis = axis - offset;
    return inAxis < 0 || inShape[inAxis] === 1 ? 0 : inStrides[inAxis]!;
  });
  const source = new Int32Array(size);
  const counter = new Array<number>(rank).fill(0);
  let position = 0;
  for (let i = 0; i < size; i++) {
    source[i] = position;
    // Odometer increment of the output multi-index, updating the input position incrementally.
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      position += strides[axis]!;
      if (counter[axis]! < outShape[axis]!) break;
      position -= strides[axis]! * counter[axis]!;
      counter[axis] = 0;
    }
  }
  return source;
}

/** `data` of `inShape` broadcast to `outShape`, as a new array (or `data` itself when equal). */
export function expandTo(data: Float64Array, inShape: Shape, outShape: Shape): Float64Array {
  const source = broadcastSource(inShape, outShape);
  if (source === undefined) return data;
  const out = new Float64Array(source.length);
  for (let i = 0; i < out.length; i++) out[i] = data[source[i]!]!;
  return out;
}
