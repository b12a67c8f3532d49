// Shape rules of the IR ops, applied once at trace time, so a backend never meets a shape it
// has to guess and a mistake in model code fails where it was written, naming the op.
import { ShapeMismatchError } from "../errors.js";
import { sizeOf, type Shape } from "../tensor/host-tensor.js";

const show = (shape: Shape): string => `[${shape.join(", ")}]`;

/** Numpy broadcasting of any number of shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let axis = 0; axis < rank; axis++) {
    let size = 1;
    for (const shape of shapes) {
      const dimension = shape[shape.length - rank + axis] ?? 1;
      if (dimension === 1) continue;
      if (size !== 1 && size !== dimension) {
        throw new ShapeMismatchError(op, `cannot broadcast ${shapes.map(show).join(" with ")}`);
      }
      size = dimension;
    }
    out.push(size);
  }
  return out;
}

export function matmulShape(a: Shape, b: Shape): number[] {
  if (a.length < 2 || b.length < 2) throw new ShapeMismatchError("matmul", `operands need rank >= 2, got ${show(a)} and ${show(b)}`);
  const [m, k] = a.slice(-2) as [number, number];
  const [k2, n] = b.slice(-2) as [number, number];
  if (k !== k2) throw new ShapeMismatchError("matmul", `inner dimensions differ: ${show(a)} x ${show(b)}`);
  return [...broadcastShapes("matmul batch", a.slice(0, -2), b.slice(0, -2)), m, n];
}

export function normalizeAxis(axis: number, rank: number, op: string): number {
  const normalized = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(normalized) || normalized < 0 || normalized >= rank) {
    throw new ShapeMismatchError(op, `axis ${axis} out of range for rank ${rank}`);
  }
  return normalized;
}

export function reduceShape(shape: Shape, axes: readonly number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

export function reshapeShape(from: Shape, to: readonly number[]): number[] {
  const known = to.filter((d) => d !== -1);
  const inferred = to.length - known.length;
  if (inferred > 1) throw new ShapeMismatchError("reshape", `more than one -1 in ${show(to)}`);
  const out = to.map((d) => (d === -1 ? sizeOf(from) / Math.max(1, sizeOf(known)) : d));
  if (sizeOf(out) !== sizeOf(from) || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeMismatchError("reshape", `${show(from)} cannot become ${show(to)}`);
  }
  return out;
}

export function transposeShape(shape: Shape, perm: readonly number[]): number[] {
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== shape.length || sorted.some((axis, i) => axis !== i)) {
    throw new ShapeMismatchError("transpose", `permutation [${perm.join(", ")}] for shape ${show(shape)}`);
  }
  return perm.map((axis) => shape[axis]!);
}

export function sliceShape(shape: Shape, starts: readonly number[], ends: readonly number[], axes: readonly number[]): number[] {
  const out = [...shape];
  axes.forEach((axis, i) => {
    const size = shape[axis]!;
    const start = starts[i]!;
    const end = ends[i]!;
    if (start < 0 || end > size || start > end) {
      throw new ShapeMismatchError("slice", `range [${start}, ${end}) on axis ${axis} of ${show(shape)}`);
    }
    out[axis] = end - start;
  });
  return out;
}

export function concatShape(shapes: readonly Shape[], axis: number): number[] {
  const first = shapes[0]!;
  const out = [...first];
  out[axis] = 0;
  for (const shape of shapes) {
    if (shape.length !== first.length || shape.some((d, i) => i !== axis && d !== first[i])) {
      throw new ShapeMismatchError("concat", `${shapes.map(show).join(", ")} along axis ${axis}`);
    }
    out[axis]! += shape[axis]!;
  }
  return out;
}
