// Data movement kernels of the reference backend: gather and scatterAdd on axis 0 (ONNX Gather
// and ScatterND with reduction "add"), slice, concat, transpose, reshape and broadcastTo (ONNX
// Expand). Indices follow ONNX: in [-rows, rows), negative counting from the end; any other
// value is an InvalidArgumentError naming it, never a silent read out of bounds.
import { InvalidArgumentError } from "../../errors.js";
import { sizeOf, type Shape } from "../../tensor/host-tensor.js";
import { expandTo, stridesOf } from "./layout.js";
import type { Value } from "./value.js";

function rowIndex(op: string, value: number, rows: number): number {
  if (!Number.isInteger(value) || value < -rows || value >= rows) {
    throw new InvalidArgumentError(`${op} indices`, `index ${value} is out of range for ${rows} rows`);
  }
  return value < 0 ? value + rows : value;
}

// data [V, ...row], indices [...I] -> [...I, ...row]
export function gather(data: Value, indices: Value): Float64Array {
  const rows = data.shape[0] ?? 0;
  const rowSize = sizeOf(data.shape.slice(1));
  const out = new Float64Array(indices.data.length * rowSize);
  indices.data.forEach((value, i) => {
    const row = rowIndex("gather", value, rows);
    out.set(data.data.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize);
  });
  return out;
}

// indices [...I], updates [...I, ...row] -> [rows, ...row]: zeros with each update row added at
// its index, in index order, so duplicate indices sum.
export function scatterAdd(indices: Value, updates: Value, rows: number): Float64Array {
  const rowSize = sizeOf(updates.shape.slice(indices.shape.length));
  const out = new Float64Array(rows * rowSize);
  indices.data.forEach((value, i) => {
    const row = rowIndex("scatterAdd", value, rows);
    for (let j = 0; j < rowSize; j++) out[row * rowSize + j]! += updates.data[i * rowSize + j]!;
  });
  return out;
}

// data [..., V], indices [..., k] -> [..., k]: data[..., indices[..., j]]
export function takeAlong(data: Value, indices: Value): Float64Array {
  const size = data.shape[data.shape.length - 1] ?? 0;
  const k = indices.shape[indices.shape.length - 1] ?? 0;
  const out = new Float64Array(indices.data.length);
  indices.data.forEach((value, i) => {
    const row = Math.floor(i / k);
    out[i] = data.data[row * size + rowIndex("takeAlong", value, size)]!;
  });
  return out;
}

// indices [..., k], updates [..., k] -> [..., size]: zeros with each update added at its index,
// duplicates summing.
export function scatterAlong(indices: Value, updates: Value, size: number): Float64Array {
  const k = indices.shape[indices.shape.length - 1] ?? 0;
  const out = new Float64Array(k === 0 ? 0 : (indices.data.length / k) * size);
  indices.data.forEach((value, i) => {
    const row = Math.floor(i / k);
    out[row * size + rowIndex("scatterAlong", value, size)]! += updates.data[i]!;
  });
  return out;
}

// [x] -> [x with axes[i] cut to [starts[i], ends[i])] = outShape
export function slice(x: Value, starts: readonly number[], axes: readonly number[], outShape: Shape): Float64Array {
  const begin = x.shape.map(() => 0);
  axes.forEach((axis, i) => (begin[axis] = starts[i]!));
  const inStrides = stridesOf(x.shape);
  const out = new Float64Array(sizeOf(outShape));
  forEachIndex(outShape, (index, flat) => {
    let source = 0;
    for (let axis = 0; axis < index.length; axis++) source += (index[axis]! + begin[axis]!) * inStrides[axis]!;
    out[flat] = x.data[source]!;
  });
  return out;
}

// [..., a_i, ...] for each part -> [..., sum a_i, ...] along `axis`
export function concat(parts: readonly Value[], axis: number, outShape: Shape): Float64Array {
  const outer = sizeOf(outShape.slice(0, axis));
  const inner = sizeOf(outShape.slice(axis + 1));
  const out = new Float64Array(sizeOf(outShape));
  let written = 0;
  for (let o = 0; o < outer; o++) {
    for (const part of parts) {
      const chunk = part.shape[axis]! * inner;
      out.set(part.data.subarray(o * chunk, (o + 1) * chunk), written);
      written += chunk;
    }
  }
  return out;
}

// [x] -> [x.shape[perm[0]], x.shape[perm[1]], ...] = outShape
export function transpose(x: Value, perm: readonly number[], outShape: Shape): Float64Array {
  const inStrides = stridesOf(x.shape);
  // Output axis j walks input axis perm[j].
  const strides = perm.map((axis) => inStrides[axis]!);
  const out = new Float64Array(sizeOf(outShape));
  forEachIndex(outShape, (index, flat) => {
    let source = 0;
    for (let axis = 0; axis < index.length; axis++) source += index[axis]! * strides[axis]!;
    out[flat] = x.data[source]!;
  });
  return out;
}

// [x] -> [shape]: row-major data is unchanged, so this is a copy.
export function reshape(x: Value): Float64Array {
  return Float64Array.from(x.data);
}

// [x] -> [shape], numpy broadcasting
export function broadcastTo(x: Value, outShape: Shape): Float64Array {
  const expanded = expandTo(x.data, x.shape, outShape);
  return expanded === x.data ? Float64Array.from(x.data) : expanded;
}

/** Calls `visit` with every multi-index of `shape` in row-major order and its flat position. */
function forEachIndex(shape: Shape, visit: (index: readonly number[], flat: number) => void): void {
  const size = sizeOf(shape);
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < size; flat++) {
    visit(index, flat);
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      index[axis]!++;
      if (index[axis]! < shape[axis]!) break;
      index[axis] = 0;
    }
  }
}
