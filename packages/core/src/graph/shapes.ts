// Shape rules of the IR ops, applied once at trace time, so a backend never meets a shape it
// has to guess and a mistake in model code fails where it was written, naming the op. Dims may
// be symbolic (dims.ts): broadcasting and matmul need equal dims (or a static 1), concat adds,
// reshape keeps the element count, all as exact polynomial arithmetic.
import { ShapeMismatchError } from "../errors.js";
import { allStatic, dimAdd, dimDivide, dimEquals, dimProduct, dimSub, showDims as show, type Dim, type Dims } from "./dims.js";

/** Numpy broadcasting of any number of shapes. */
export function broadcastShapes(op: string, ...shapes: Dims[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let axis = 0; axis < rank; axis++) {
    let size: Dim = 1;
    for (const shape of shapes) {
      const dimension = shape[shape.length - rank + axis] ?? 1;
      if (dimension === 1) continue;
      if (size !== 1 && !dimEquals(size, dimension)) {
        throw new ShapeMismatchError(op, `cannot broadcast ${shapes.map(show).join(" with ")}`);
      }
      size = dimension;
    }
    out.push(size);
  }
  return out;
}

export function matmulShape(a: Dims, b: Dims): Dim[] {
  if (a.length < 2 || b.length < 2) throw new ShapeMismatchError("matmul", `operands need rank >= 2, got ${show(a)} and ${show(b)}`);
  const [m, k] = a.slice(-2) as [Dim, Dim];
  const [k2, n] = b.slice(-2) as [Dim, Dim];
  if (!dimEquals(k, k2)) throw new ShapeMismatchError("matmul", `inner dimensions differ: ${show(a)} x ${show(b)}`);
  return [...broadcastShapes("matmul batch", a.slice(0, -2), b.slice(0, -2)), m, n];
}

export function normalizeAxis(axis: number, rank: number, op: string): number {
  const normalized = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(normalized) || normalized < 0 || normalized >= rank) {
    throw new ShapeMismatchError(op, `axis ${axis} out of range for rank ${rank}`);
  }
  return normalized;
}

export function reduceShape(shape: Dims, axes: readonly number[], keepDims: boolean): Dim[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

export function reshapeShape(from: Dims, to: Dims): Dim[] {
  const known = to.filter((d) => d !== -1);
  if (to.length - known.length > 1) throw new ShapeMismatchError("reshape", `more than one -1 in ${show(to)}`);
  const fail = (): never => {
    throw new ShapeMismatchError("reshape", `${show(from)} cannot become ${show(to)}`);
  };
  // Dims found on both sides cancel before dividing, so [past+seq, 8] -> [past+seq, -1] infers 8.
  const remaining = [...from];
  const unmatched = known.filter((d) => {
    const at = remaining.findIndex((f) => dimEquals(f, d));
    if (at < 0) return true;
    remaining.splice(at, 1);
    return false;
  });
  const inferred = (): Dim => dimDivide(dimProduct(remaining), dimProduct(unmatched)) ?? fail();
  const out = to.map((d) => (d === -1 ? inferred() : d));
  if (!dimEquals(dimProduct(out), dimProduct(from)) || out.some((d) => typeof d === "number" && (!Number.isInteger(d) || d < 0))) fail();
  return out;
}

export function transposeShape(shape: Dims, perm: readonly number[]): Dim[] {
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== shape.length || sorted.some((axis, i) => axis !== i)) {
    throw new ShapeMismatchError("transpose", `permutation [${perm.join(", ")}] for shape ${show(shape)}`);
  }
  return perm.map((axis) => shape[axis]!);
}

/** Static ranges are checked here; symbolic ones when the graph runs. */
export function sliceShape(shape: Dims, starts: Dims, ends: Dims, axes: readonly number[]): Dim[] {
  const out = [...shape];
  axes.forEach((axis, i) => {
    const size = shape[axis]!;
    const start = starts[i]!;
    const end = ends[i]!;
    if (allStatic([size, start, end]) && ((start as number) < 0 || (end as number) > (size as number) || (start as number) > (end as number))) {
      throw new ShapeMismatchError("slice", `range [${start}, ${end}) on axis ${axis} of ${show(shape)}`);
    }
    out[axis] = dimSub(end, start);
  });
  return out;
}

/** range(start, end): [end - start], checked here when both are numbers, else when the graph runs. */
export function rangeShape(start: Dim, end: Dim): Dim[] {
  if (typeof start === "number" && typeof end === "number" && (!Number.isInteger(start) || !Number.isInteger(end) || start > end)) {
    throw new ShapeMismatchError("range", `[${start}, ${end}) is not a range of integers`);
  }
  return [dimSub(end, start)];
}

export function concatShape(shapes: readonly Dims[], axis: number): Dim[] {
  const first = shapes[0]!;
  const out = [...first];
  out[axis] = 0;
  for (const shape of shapes) {
    if (shape.length !== first.length || shape.some((d, i) => i !== axis && !dimEquals(d, first[i]!))) {
      throw new ShapeMismatchError("concat", `${shapes.map(show).join(", ")} along axis ${axis}`);
    }
    out[axis] = dimAdd(out[axis]!, shape[axis]!);
  }
  return out;
}
