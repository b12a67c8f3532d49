// Elementwise kernels of the reference backend: unary, binary, compare, where and cast, all with
// numpy broadcasting, computed in float64. Semantics follow the ONNX operators they lower to
// (Neg, Exp, Log, Tanh, Erf, Sqrt, Reciprocal(Sqrt), Abs, Cos, Sin, Add..Pow, Max, Min, Less.., Where, Cast).
// Results are rounded to the node's dtype by the interpreter, not here.
import type { BinaryOpName, CompareOpName, UnaryOpName } from "../../graph/ops.js";
import type { Shape } from "../../tensor/host-tensor.js";
import { erf } from "./erf.js";
import { expandTo } from "./layout.js";
import type { Value } from "./value.js";

const UNARY: Readonly<Record<UnaryOpName, (x: number) => number>> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  tanh: Math.tanh,
  erf,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  cos: Math.cos,
  sin: Math.sin,
};

const BINARY: Readonly<Record<BinaryOpName, (a: number, b: number) => number>> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow,
  // Math.max/min propagate NaN, as numpy's maximum and onnxruntime's Max/Min do.
  max: Math.max,
  min: Math.min,
};

const COMPARE: Readonly<Record<CompareOpName, (a: number, b: number) => boolean>> = {
  less: (a, b) => a < b,
  lessOrEqual: (a, b) => a <= b,
  greater: (a, b) => a > b,
  greaterOrEqual: (a, b) => a >= b,
  equal: (a, b) => a === b,
};

/**
 * C's pow, which ONNX Pow follows, where it differs from Math.pow: pow(1, y) is 1 for every y
 * (NaN included) and pow(-1, +-Infinity) is 1; Math.pow gives NaN for both.
 */
function pow(a: number, b: number): number {
  if (a === 1 || (a === -1 && !Number.isFinite(b) && !Number.isNaN(b))) return 1;
  return a ** b;
}

// [shape of x] -> [shape of x]
export function unary(op: UnaryOpName, x: Value): Float64Array {
  const f = UNARY[op];
  return x.data.map((value) => f(value));
}

// [a], [b] -> [broadcast(a, b)] = outShape
export function binary(op: BinaryOpName, a: Value, b: Value, outShape: Shape): Float64Array {
  const f = BINARY[op];
  const left = expandTo(a.data, a.shape, outShape);
  const right = expandTo(b.data, b.shape, outShape);
  const out = new Float64Array(left.length);
  for (let i = 0; i < out.length; i++) out[i] = f(left[i]!, right[i]!);
  return out;
}

// [a], [b] -> bool [broadcast(a, b)] as 0/1
export function compare(op: CompareOpName, a: Value, b: Value, outShape: Shape): Float64Array {
  const f = COMPARE[op];
  const left = expandTo(a.data, a.shape, outShape);
  const right = expandTo(b.data, b.shape, outShape);
  const out = new Float64Array(left.length);
  for (let i = 0; i < out.length; i++) out[i] = f(left[i]!, right[i]!) ? 1 : 0;
  return out;
}

// [c], [t], [f] -> [broadcast(c, t, f)] = outShape
export function where(condition: Value, whenTrue: Value, whenFalse: Value, outShape: Shape): Float64Array {
  const c = expandTo(condition.data, condition.shape, outShape);
  const t = expandTo(whenTrue.data, whenTrue.shape, outShape);
  const f = expandTo(whenFalse.data, whenFalse.shape, outShape);
  const out = new Float64Array(c.length);
  for (let i = 0; i < out.length; i++) out[i] = c[i] !== 0 ? t[i]! : f[i]!;
  return out;
}

/**
 * [x] -> [x]. The values are copied unchanged: the conversion itself (truncation toward zero for
 * float to int, != 0 for bool, rounding for narrower floats) is `roundToDType` of the target
 * dtype, which the interpreter applies to every result.
 */
export function cast(x: Value): Float64Array {
  return Float64Array.from(x.data);
}
