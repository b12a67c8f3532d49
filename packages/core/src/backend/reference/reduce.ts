// Reductions of the reference backend: sum and max over a set of axes (ONNX ReduceSum and
// ReduceMax with keepdims), and softmax along one axis (ONNX Softmax, opset 13: the max is
// subtracted first, so large logits do not overflow). All accumulate in float64.
import type { ReduceOpName } from "../../graph/ops.js";
import { sizeOf } from "../../tensor/host-tensor.js";
import { stridesOf } from "./layout.js";
import type { Value } from "./value.js";

/**
 * [x] -> [x with `axes` removed, or kept as 1 with keepDims]; both layouts hold the same flat
 * data. An empty `axes` reduces nothing (the IR's shape rule keeps every axis). Max of an empty
 * range is -Infinity; NaN propagates, as in Math.max.
 */
export function reduce(op: ReduceOpName, x: Value, axes: readonly number[]): Float64Array {
  const keptShape = x.shape.map((d, axis) => (axes.includes(axis) ? 1 : d));
  const keptStrides = stridesOf(keptShape);
  // Stride in the output of each input axis: 0 along reduced axes, so they fold together.
  const strides = keptStrides.map((stride, axis) => (axes.includes(axis) ? 0 : stride));
  const out = new Float64Array(sizeOf(keptShape)).fill(op === "sum" ? 0 : Number.NEGATIVE_INFINITY);
  const rank = x.shape.length;
  const counter = new Array<number>(rank).fill(0);
  let position = 0;
  for (let i = 0; i < x.data.length; i++) {
    const value = x.data[i]!;
    out[position] = op === "sum" ? out[position]! + value : Math.max(out[position]!, value);
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      position += strides[axis]!;
      if (counter[axis]! < x.shape[axis]!) break;
      position -= strides[axis]! * counter[axis]!;
      counter[axis] = 0;
    }
  }
  return out;
}

// [x] -> [x], each run along `axis` mapped to exp(x - max) / sum(exp(x - max)).
export function softmax(x: Value, axis: number): Float64Array {
  const length = x.shape[axis]!;
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const out = new Float64Array(x.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * length * inner + i;
      let maximum = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < length; j++) maximum = Math.max(maximum, x.data[base + j * inner]!);
      let sum = 0;
      for (let j = 0; j < length; j++) {
        const e = Math.exp(x.data[base + j * inner]! - maximum);
        out[base + j * inner] = e;
        sum += e;
      }
      for (let j = 0; j < length; j++) out[base + j * inner]! /= sum;
    }
  }
  return out;
}
