// The WebGPU backend op by op against the reference backend (the oracle): every op kind and op
// name of the IR on random inputs from core's seeded Random, at broadcast shapes, odd sizes and
// sizes that are no multiple of a workgroup or a matmul tile; then one symbolic graph at two
// sizes, gradient graphs, the typed errors of bad inputs and of indices out of range, and
// resident tensors (upload, runResident, read, view). Runs in Node through Dawn; on a machine
// without a WebGPU adapter (no Vulkan driver) the whole suite is skipped, saying why.
//
// Tolerance. Float outputs must satisfy |gpu - ref| <= 1e-5 * max(1, m) per element, where m is
// the magnitude of what the element was computed from:
//   - elementwise ops (and data movement, where the error is 0): m = |ref|, a relative bound
//     that becomes absolute below 1;
//   - sums (reduce sum, matmul, matmulNBits, scatterAdd and scatterAlong with repeated indices):
//     m = the sum of the magnitudes of the summed terms (|x| summed over the reduced axes,
//     |a| x |b| for a matmul), computed by the reference on the same graph with abs() applied.
//     A float32 sum of n terms in any order errs by at most ~n * 2^-24 * sum|terms|, and a
//     cancelling sum can have |ref| far below sum|terms|, so bounding by |ref| would reject a
//     correct GPU result that merely adds in another order (tiles, tree reductions);
//   - softmax: every output is in [0, 1] and the row sums to 1, so m = max(1, |ref|) = 1: an
//     absolute 1e-5 (the f32 error of exp(x - max) / sum is a few ulps of 1).
// Integer and bool outputs must be exactly equal. Composite and gradient graphs use the
// elementwise bound: their sums are short (<= 16 terms of magnitude ~1), so their rounding
// error (~1e-6) is still well inside 1e-5.
import {
  type BinaryOpName,
  type CompareOpName,
  crossEntropy,
  type DType,
  dequantizeBlocks,
  dequantizeMatrix,
  geluTanh,
  type Graph,
  GraphBuilder,
  gradients,
  HostTensor,
  hostView,
  InvalidArgumentError,
  type OpKind,
  quantizeMatrix,
  Random,
  type ReduceOpName,
  ReferenceBackend,
  rmsNorm,
  type Shape,
  ShapeMismatchError,
  softCap,
  type SymbolicTensor,
  type UnaryOpName,
} from "@gemma-ts/core";
import { afterAll, describe, expect, it } from "vitest";
import { WebGpuBackend } from "../src/index.js";
import { nodeGpu } from "../src/node.js";

const TOLERANCE = 1e-5;

// ---------------------------------------------------------------------------------------------
// The backend under test, or the reason there is none (then every test below is skipped).

async function createBackend(): Promise<{ backend: WebGpuBackend } | { reason: string }> {
  try {
    return { backend: await WebGpuBackend.create({ gpu: nodeGpu() }) };
  } catch (error) {
    return { reason: error instanceof Error ? error.message : String(error) };
  }
}

const setup = await createBackend();
const gpu = "backend" in setup ? setup.backend : undefined;
const SUITE =
  "backend" in setup
    ? "WebGpuBackend against the reference backend"
    : `WebGpuBackend against the reference backend (SKIPPED: no WebGPU adapter: ${setup.reason}; on Linux without a GPU set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)`;
if (!gpu) console.warn(SUITE);

/** The backend, inside tests that only run when there is one. */
function backend(): WebGpuBackend {
  if (!gpu) throw new Error("no WebGPU backend");
  return gpu;
}

const reference = new ReferenceBackend();

// ---------------------------------------------------------------------------------------------
// Random inputs.

const count = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);
const draw = (shape: Shape, f: () => number): number[] => Array.from({ length: count(shape) }, f);

/** Standard normal values times `scale`. */
const normal = (r: Random, shape: Shape, scale = 1): HostTensor => HostTensor.float32(shape, draw(shape, () => r.normal() * scale));
/** In [0.5, 2]: away from the poles and branch points of log, sqrt, rsqrt, pow and div. */
const positive = (r: Random, shape: Shape): HostTensor => HostTensor.float32(shape, draw(shape, () => 0.5 + 1.5 * r.uniform()));
/** +-[0.5, 2]: divisors. */
const nonzero = (r: Random, shape: Shape): HostTensor => HostTensor.float32(shape, draw(shape, () => (r.uniform() < 0.5 ? -1 : 1) * (0.5 + 1.5 * r.uniform())));
/** Multiples of 0.5 in about [-4, 4]: many exact ties, for compare, max and min. */
const halves = (r: Random, shape: Shape): HostTensor => HostTensor.float32(shape, draw(shape, () => Math.round(r.normal() * 2) / 2));
/** Integers in [low, high). */
const integers = (r: Random, shape: Shape, low: number, high: number): number[] => draw(shape, () => low + Math.floor(r.uniform() * (high - low)));
const int32 = (r: Random, shape: Shape, low: number, high: number): HostTensor => HostTensor.int32(shape, integers(r, shape, low, high));
const int64 = (r: Random, shape: Shape, low: number, high: number): HostTensor => HostTensor.int64(shape, integers(r, shape, low, high));
const bools = (r: Random, shape: Shape): HostTensor => new HostTensor("bool", shape, Uint8Array.from(draw(shape, () => (r.uniform() < 0.5 ? 1 : 0))));
const uint8 = (r: Random, shape: Shape): HostTensor => new HostTensor("uint8", shape, Uint8Array.from(integers(r, shape, 0, 256)));

/** A stable seed per case name, so a case's inputs do not depend on the order cases run in. */
function seedOf(name: string): number {
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  return hash >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Comparison.

const EXACT: ReadonlySet<DType> = new Set<DType>(["int32", "int64", "bool", "uint8"]);

/** Every element as a JS number: halves decoded, int64 via Number, bool as 0/1. */
function numbers(tensor: HostTensor): number[] {
  if (tensor.dtype === "float16" || tensor.dtype === "bfloat16") return Array.from(tensor.toFloat32().data);
  return Array.from(tensor.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/**
 * Throws (listing up to 8 bad elements) unless `actual` has `expected`'s dtype and shape and its
 * values agree: exactly for integers and bools, else within TOLERANCE * max(1, m), m the
 * element of `magnitude` when given (the summed |terms|) or |expected| otherwise.
 */
function assertClose(actual: HostTensor, expected: HostTensor, what: string, magnitude?: HostTensor): void {
  if (actual.dtype !== expected.dtype) throw new Error(`${what}: dtype ${actual.dtype}, expected ${expected.dtype}`);
  if (actual.shape.length !== expected.shape.length || actual.shape.some((d, i) => d !== expected.shape[i])) {
    throw new Error(`${what}: shape [${actual.shape.join(", ")}], expected [${expected.shape.join(", ")}]`);
  }
  const got = numbers(actual);
  const want = numbers(expected);
  const scale = magnitude ? numbers(magnitude) : undefined;
  const exact = EXACT.has(expected.dtype);
  const bad: string[] = [];
  let badCount = 0;
  for (let i = 0; i < want.length; i++) {
    const [g, w] = [got[i]!, want[i]!];
    let ok: boolean;
    if (exact || !Number.isFinite(w)) ok = Object.is(g, w) || g === w; // NaN and infinities must match exactly
    else ok = Math.abs(g - w) <= TOLERANCE * Math.max(1, Math.abs(scale ? scale[i]! : w));
    if (!ok) {
      badCount++;
      if (bad.length < 8) bad.push(`[${i}] got ${g}, expected ${w}${scale ? ` (magnitude ${scale[i]})` : ""}`);
    }
  }
  if (badCount > 0) throw new Error(`${what} ${expected.dtype}[${expected.shape.join(", ")}]: ${badCount} of ${want.length} elements differ: ${bad.join("; ")}`);
}

/**
 * Checks every output of `graph` (and no other) against the reference's, with the bound of
 * `magnitude.<name>` outputs of the reference where the case computed one. Collects every
 * failing output before throwing, so one run reports all of them.
 */
function assertOutputsMatch(graph: Graph, actual: Record<string, HostTensor>, expected: Record<string, HostTensor>, what: string): void {
  const names = [...graph.outputs.keys()].sort();
  expect(Object.keys(actual).sort(), `${what}: output names`).toEqual(names);
  const failures: string[] = [];
  for (const name of names) {
    const declared = graph.nodes[graph.outputs.get(name)!]!.dtype;
    try {
      if (actual[name]!.dtype !== declared) throw new Error(`${what}: ${name}: dtype ${actual[name]!.dtype}, the graph declares ${declared}`);
      assertClose(actual[name]!, expected[name]!, `${what}: ${name}`, expected[`magnitude.${name}`]);
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  if (failures.length > 0) throw new Error(failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The table: one row per op (or small group of ops), with random inputs.

type Tensors = Record<string, SymbolicTensor>;

interface Case {
  name: string;
  inputs(r: Random): Record<string, HostTensor>;
  /** The outputs the GPU computes. */
  build(b: GraphBuilder, x: Tensors): Tensors;
  /** Per output, the sum of |terms| it adds up (see the header); the reference computes these. */
  magnitude?(b: GraphBuilder, x: Tensors): Tensors;
}

const UNARY_NORMAL = ["neg", "exp", "tanh", "erf", "abs", "cos", "sin"] as const;
const UNARY_POSITIVE = ["log", "sqrt", "rsqrt"] as const;

/** A slice of several axes in one node (the builder's slice() does one axis per node). */
function sliceAxes(x: SymbolicTensor, starts: number[], ends: number[], axes: number[]): SymbolicTensor {
  const shape = [...x.shape];
  axes.forEach((axis, i) => (shape[axis] = ends[i]! - starts[i]!));
  return x.builder.append({ kind: "slice", starts, ends, axes }, [x.id], x.dtype, shape);
}

/** |W| of a quantized matrix [N, K], transposed to [K, N]: the magnitude of matmulNBits' terms. */
function absDequantizedT(b: GraphBuilder, blocks: HostTensor, scales: HostTensor, bits: 4 | 8): SymbolicTensor {
  const [rows, blockCount, bytes] = blocks.shape as [number, number, number];
  const matrix = dequantizeMatrix({ bits, rows, cols: (blockCount * bytes * 8) / bits, blocks: blocks as HostTensor<"uint8">, scales: scales as HostTensor<"float32"> });
  return b.constant(HostTensor.float32(matrix.shape, matrix.data.map(Math.abs))).transpose([1, 0]);
}

// Quantized weights for matmulNBits, made with core's quantizer from seeded normals.
const Q4 = quantizeMatrix(normal(new Random(41), [5, 64]) as HostTensor<"float32">, 4);
const Q8 = quantizeMatrix(normal(new Random(42), [33, 96]) as HostTensor<"float32">, 8);
const Q4_ROW = quantizeMatrix(normal(new Random(43), [1, 32]) as HostTensor<"float32">, 4);

const CASES: Case[] = [
  {
    name: "input, constant and range",
    inputs: (r) => ({ x: normal(r, [3, 5]) }),
    build: (b, { x }) => ({
      x: x!, // an input returned as it is
      shifted: x!.add(b.constant(normal(new Random(1), [3, 5]))),
      table: b.constant(HostTensor.int32([2, 3], [4, -1, 0, 7, 2, -9])), // a constant returned as it is
      range: b.range(-3, 4),
      rangeOffset: b.range(5, 6).add(b.constant(HostTensor.int64([3, 1], [0, 10, 20]))),
    }),
  },
  {
    // An optimiser step's graph: w in, the new w out under the same name, and one value under two names.
    name: "outputs named like inputs, and one value under two names",
    inputs: (r) => ({ w: normal(r, [4, 3]), grad: normal(r, [4, 3]) }),
    build: (_b, { w, grad }) => {
      const updated = w!.sub(grad!.mul(0.5));
      return { w: updated, alsoW: updated, grad: grad!.neg() };
    },
  },
  {
    name: "unary, every op, on odd sizes",
    inputs: (r) => ({ x: normal(r, [7, 13], 2), p: positive(r, [7, 13]), wide: normal(r, [37], 8) }),
    build: (_b, { x, p, wide }) => ({
      ...Object.fromEntries(UNARY_NORMAL.map((op) => [op, x![op]()])),
      ...Object.fromEntries(UNARY_POSITIVE.map((op) => [op, p![op]()])),
      // Saturating tanh and erf, large exp, angles of several periods (RoPE's).
      tanhWide: wide!.tanh(),
      erfWide: wide!.erf(),
      expWide: wide!.mul(0.25).exp(),
      cosWide: wide!.cos(),
      sinWide: wide!.sin(),
      logWide: wide!.abs().add(1e-3).log(),
    }),
  },
  {
    name: "binary, every op, with broadcasting",
    inputs: (r) => ({ a: normal(r, [3, 1, 5]), c: normal(r, [4, 1]), d: nonzero(r, [4, 5]), p: positive(r, [3, 1, 5]), h: halves(r, [4, 5]), s: normal(r, []) }),
    build: (_b, { a, c, d, p, h, s }) => ({
      add: a!.add(c!), // [3, 1, 5] + [4, 1] -> [3, 4, 5]
      sub: c!.sub(a!),
      mul: a!.mul(d!),
      div: a!.div(d!),
      divScalar: d!.div(s!.abs().add(0.5)),
      pow: p!.pow(c!),
      max: a!.maximum(h!),
      min: h!.minimum(a!),
      maxTies: h!.maximum(h!.mul(-1)),
      scalars: a!.mul(0.5).add(1).sub(s!),
      sameShape: d!.mul(d!).add(d!),
    }),
  },
  {
    name: "pow of negative bases with integer exponents (as x.pow(2) in a variance)",
    inputs: (r) => ({ x: normal(r, [3, 7], 2) }),
    build: (b, { x }) => ({ square: x!.pow(2), cube: x!.pow(3), inverse: x!.abs().add(0.5).pow(-1), zeroth: x!.pow(b.scalar(0)) }),
  },
  {
    name: "integer binary ops, int32 and int64, with broadcasting (positions, 4-bit nibbles)",
    inputs: (r) => ({ q: int64(r, [5, 1], -6, 20), k: int64(r, [7], -6, 20), i: int32(r, [3, 9], -50, 50), j: int32(r, [9], 1, 9), u: int32(r, [3, 9], 0, 256) }),
    build: (_b, { q, k, i, j, u }) => ({
      sub64: q!.sub(k!),
      add64: q!.add(k!),
      mul64: q!.mul(k!),
      max64: q!.maximum(k!),
      min64: q!.minimum(k!),
      add32: i!.add(j!),
      mul32: i!.mul(j!).mul(3),
      div32: i!.div(j!), // truncates toward zero: -7 / 2 = -3
      divNegative: i!.div(j!.neg()),
      nibbles: u!.sub(u!.div(16).mul(16)), // u mod 16, as dequantizeBlocks splits bytes
      max32: i!.maximum(j!),
      min32: i!.minimum(0),
    }),
  },
  {
    name: "compare, every op, float and integer, with broadcasting and ties",
    inputs: (r) => ({ a: halves(r, [4, 1, 6]), c: halves(r, [3, 6]), q: int64(r, [5, 1], 0, 6), k: int64(r, [7], 0, 6), i: int32(r, [11], -3, 3) }),
    build: (_b, { a, c, q, k, i }) => ({
      less: a!.less(c!),
      lessOrEqual: a!.lessOrEqual(c!),
      greater: c!.greater(a!),
      greaterOrEqual: a!.greaterOrEqual(c!),
      equal: a!.equal(c!),
      scalar: a!.greater(0.5),
      lessInt64: q!.less(k!),
      window: q!.sub(k!).lessOrEqual(1).equal(q!.greaterOrEqual(k!)), // a sliding-window mask
      equalInt32: i!.equal(0),
      greaterOrEqualInt32: i!.greaterOrEqual(i!.neg()),
    }),
  },
  {
    name: "where, broadcasting all three, float, int and bool",
    inputs: (r) => ({ c: bools(r, [3, 1]), m: bools(r, [3, 4]), t: normal(r, [1, 4]), f: normal(r, [3, 4]), i: int32(r, [4], -9, 9), l: int64(r, [3, 1], -9, 9), p: bools(r, [4]) }),
    build: (b, { c, m, t, f, i, l, p }) => ({
      floats: b.where(c!, t!, f!),
      mask: b.where(m!, f!, b.scalar(-1e9)),
      ints: b.where(m!, i!, b.scalar(-1, "int32")),
      int64s: b.where(c!, l!, b.scalar(7, "int64")),
      flags: b.where(c!, p!, m!),
      fromCompare: b.where(f!.greater(t!), f!, t!),
    }),
  },
  {
    name: "cast between float32, int32, int64, bool and uint8, and to float16 and bfloat16",
    inputs: (r) => ({
      // Truncation toward zero, exact zeros (-> false), integers and halves.
      f: HostTensor.float32([5, 7], draw([5, 7], () => (r.uniform() < 0.2 ? 0 : r.uniform() < 0.3 ? Math.round(r.normal() * 4) : r.normal() * 6))),
      i: int32(r, [5, 7], -3, 4),
      l: int64(r, [5, 7], -100000, 100000),
      o: bools(r, [5, 7]),
      h: normal(r, [9], 3).toHalf("float16"),
      bh: normal(r, [9], 3).toHalf("bfloat16"),
      u: uint8(r, [13]),
    }),
    build: (_b, { f, i, l, o, h, bh, u }) => ({
      floatToInt32: f!.cast("int32"),
      floatToInt64: f!.cast("int64"),
      floatToBool: f!.cast("bool"),
      floatToHalf: f!.cast("float16"),
      floatToBfloat: f!.cast("bfloat16"),
      int32ToFloat: i!.cast("float32"),
      int32ToInt64: i!.cast("int64"),
      int32ToBool: i!.cast("bool"),
      int32ToHalf: i!.cast("float16"),
      int64ToInt32: l!.cast("int32"),
      int64ToFloat: l!.cast("float32"),
      int64ToBool: l!.cast("bool"),
      boolToFloat: o!.cast("float32"),
      boolToInt32: o!.cast("int32"),
      boolToInt64: o!.cast("int64"),
      halfToFloat: h!.cast("float32"),
      halfToInt32: h!.cast("int32"),
      bfloatToFloat: bh!.cast("float32"),
      halfToBfloat: h!.cast("bfloat16"),
      uint8ToInt32: u!.cast("int32"),
      uint8ToFloat: u!.cast("float32"),
    }),
  },
  {
    // The IR rounds at a cast to a narrower float, mid-graph as well as at an output.
    name: "cast to float16 and bfloat16 inside a graph rounds",
    inputs: (r) => ({ f: normal(r, [5, 7], 6) }),
    build: (_b, { f }) => ({ viaHalf: f!.cast("float16").cast("float32"), viaBfloat: f!.cast("bfloat16").cast("float32"), halfSum: f!.cast("bfloat16").cast("float32").sub(f!) }),
  },
  {
    name: "matmul, plain at odd and tile-straddling sizes",
    inputs: (r) => ({ a1: normal(r, [1, 1]), b1: normal(r, [1, 1]), a2: normal(r, [17, 33]), b2: normal(r, [33, 19]), a3: normal(r, [65, 7]), b3: normal(r, [7, 130]), a4: normal(r, [2, 70]), b4: normal(r, [70, 1]) }),
    build: (_b, x) => ({ m1: x.a1!.matmul(x.b1!), m2: x.a2!.matmul(x.b2!), m3: x.a3!.matmul(x.b3!), m4: x.a4!.matmul(x.b4!) }),
    magnitude: (_b, x) => ({
      m1: x.a1!.abs().matmul(x.b1!.abs()),
      m2: x.a2!.abs().matmul(x.b2!.abs()),
      m3: x.a3!.abs().matmul(x.b3!.abs()),
      m4: x.a4!.abs().matmul(x.b4!.abs()),
    }),
  },
  {
    name: "matmul, batched with broadcast batch dims",
    inputs: (r) => ({ a: normal(r, [2, 1, 5, 6]), b: normal(r, [3, 6, 4]), c: normal(r, [3, 5, 9]), w: normal(r, [9, 2]), m: normal(r, [4, 3]), n: normal(r, [2, 3, 5]), o: normal(r, [1, 1, 1]), p: normal(r, [3, 1, 1]) }),
    build: (_b, x) => ({
      batchBroadcast: x.a!.matmul(x.b!), // [2, 1, 5, 6] x [3, 6, 4] -> [2, 3, 5, 4]
      rightMatrix: x.c!.matmul(x.w!), // [3, 5, 9] x [9, 2]
      leftMatrix: x.m!.matmul(x.n!), // [4, 3] x [2, 3, 5]
      ones: x.o!.matmul(x.p!), // [1, 1, 1] x [3, 1, 1]
      transposedRight: x.c!.matmul(x.c!.transpose([0, 2, 1])), // [3, 5, 5], attention scores
    }),
    magnitude: (_b, x) => ({
      batchBroadcast: x.a!.abs().matmul(x.b!.abs()),
      rightMatrix: x.c!.abs().matmul(x.w!.abs()),
      leftMatrix: x.m!.abs().matmul(x.n!.abs()),
      ones: x.o!.abs().matmul(x.p!.abs()),
      transposedRight: x.c!.abs().matmul(x.c!.abs().transpose([0, 2, 1])),
    }),
  },
  {
    name: "matmulNBits, 4 and 8 bits, weights from quantizeMatrix",
    inputs: (r) => ({ x: normal(r, [3, 64]), y: normal(r, [2, 3, 96]), z: normal(r, [1, 32]), blocks8: Q8.blocks, scales8: Q8.scales }),
    build: (b, x) => ({
      q4: b.matmulNBits(x.x!, b.constant(Q4.blocks), b.constant(Q4.scales), 4), // [3, 64] x [5, 64]^T
      q8: b.matmulNBits(x.y!, x.blocks8!, x.scales8!, 8), // [2, 3, 96] x [33, 96]^T, weights as inputs
      q4Row: b.matmulNBits(x.z!, b.constant(Q4_ROW.blocks), b.constant(Q4_ROW.scales), 4), // [1, 32] x [1, 32]^T
    }),
    magnitude: (b, x) => ({
      q4: x.x!.abs().matmul(absDequantizedT(b, Q4.blocks, Q4.scales, 4)),
      q8: x.y!.abs().matmul(absDequantizedT(b, Q8.blocks, Q8.scales, 8)),
      q4Row: x.z!.abs().matmul(absDequantizedT(b, Q4_ROW.blocks, Q4_ROW.scales, 4)),
    }),
  },
  {
    name: "dequantizeBlocks: uint8 casts, integer division and concat as the IR spells them",
    inputs: (r) => ({ blocks4: uint8(r, [5, 2, 16]), blocks8: uint8(r, [3, 2, 32]), scales4: positive(r, [5, 2]), scales8: positive(r, [3, 2]) }),
    build: (_b, x) => ({ four: dequantizeBlocks(x.blocks4!, x.scales4!, 4), eight: dequantizeBlocks(x.blocks8!, x.scales8!, 8) }),
  },
  {
    name: "reduce sum and max over one, several and all axes, keepDims on and off",
    inputs: (r) => ({ x: normal(r, [3, 5, 7]), long: normal(r, [2, 301]), tall: normal(r, [300, 3]), flat: normal(r, [517]), i: int32(r, [4, 9], -20, 20) }),
    build: (_b, { x, long, tall, flat, i }) => ({
      sumMiddle: x!.sum(1),
      sumOuterKept: x!.sum([0, 2], true),
      sumAll: x!.sum(),
      sumAllKept: x!.sum(undefined, true),
      sumNone: x!.sum([]),
      maxLastKept: x!.max(-1, true),
      maxOuter: x!.max([0, 1]),
      maxAll: x!.max(),
      maxAllKept: x!.max([0, 1, 2], true),
      mean: x!.mean(-1),
      sumLongRows: long!.sum(-1), // rows longer than a workgroup
      maxLongRows: long!.max(-1, true),
      sumTallColumns: tall!.sum(0), // a strided reduction
      maxTallColumns: tall!.max(0),
      sumFlat: flat!.sum(),
      maxFlat: flat!.max(),
      sumInt: i!.sum(1),
      maxInt: i!.max(0, true),
    }),
    magnitude: (_b, { x, long, tall, flat }) => ({
      sumMiddle: x!.abs().sum(1),
      sumOuterKept: x!.abs().sum([0, 2], true),
      sumAll: x!.abs().sum(),
      sumAllKept: x!.abs().sum(undefined, true),
      mean: x!.abs().mean(-1),
      sumLongRows: long!.abs().sum(-1),
      sumTallColumns: tall!.abs().sum(0),
      sumFlat: flat!.abs().sum(),
    }),
  },
  {
    name: "softmax on the first, middle and last axis",
    inputs: (r) => ({ x: normal(r, [3, 4, 5], 2), long: normal(r, [2, 300], 3), sharp: normal(r, [5, 3], 10), single: normal(r, [4, 1]) }),
    build: (_b, { x, long, sharp, single }) => ({
      first: x!.softmax(0),
      middle: x!.softmax(1),
      last: x!.softmax(-1),
      longRows: long!.softmax(-1),
      sharpColumns: sharp!.softmax(0), // logits of tens: the max must be subtracted
      singleton: single!.softmax(-1),
      logSumExp: x!.logSumExp(-1),
    }),
  },
  {
    // Attention masks with where(mask, scores, float32's lowest) (nn/attention.ts's MASKED_SCORE):
    // masked entries get exactly 0, and a row with every key masked a uniform softmax, not NaN.
    name: "softmax of masked scores, a fully masked row included",
    inputs: (r) => ({ scores: normal(r, [2, 3, 6], 3), mask: new HostTensor("bool", [2, 3, 6], Uint8Array.from({ length: 36 }, (_, i) => (i < 6 ? 0 : r.uniform() < 0.6 ? 1 : 0))) }), // row 0: every key masked
    build: (b, { scores, mask }) => ({ probabilities: b.where(mask!, scores!, b.scalar(-3.4028234663852886e38)).softmax(-1) }),
  },
  {
    name: "gather of rows, int32 and int64 indices, negative ones counting from the end",
    inputs: (r) => ({
      table: normal(r, [7, 5]),
      cube: normal(r, [6, 2, 3]),
      vector: normal(r, [9]),
      ints: int32(r, [5, 4], -100, 100),
      ids32: int32(r, [2, 3], -7, 7),
      ids64: int64(r, [4], -6, 6),
      one: HostTensor.int64([], [-2]),
      vectorIds: int64(r, [4], -9, 9),
      intIds: int32(r, [3], -5, 5),
    }),
    build: (_b, x) => ({
      rows32: x.table!.gather(x.ids32!), // [2, 3, 5]
      blocks64: x.cube!.gather(x.ids64!), // [4, 2, 3]
      scalarIndex: x.table!.gather(x.one!), // [5]
      entries: x.vector!.gather(x.vectorIds!), // [4]
      intRows: x.ints!.gather(x.intIds!),
    }),
  },
  {
    name: "takeAlong along the last axis, int64 and int32 indices, negative ones",
    inputs: (r) => ({ data: normal(r, [3, 9]), ids: int64(r, [3, 4], -9, 9), cube: normal(r, [2, 3, 6]), cubeIds: int32(r, [2, 3, 2], -6, 6), ints: int32(r, [4, 5], -50, 50), intIds: int64(r, [4, 1], 0, 5) }),
    build: (_b, x) => ({ taken: x.data!.takeAlong(x.ids!), cube: x.cube!.takeAlong(x.cubeIds!), ints: x.ints!.takeAlong(x.intIds!) }),
  },
  {
    name: "scatterAlong with repeated indices adding up",
    // Five picks among four positions (-2, -1, 0, 1 of 9) and four among three: every row repeats an index.
    inputs: (r) => ({ ids: int64(r, [3, 5], -2, 2), updates: normal(r, [3, 5]), cubeIds: int32(r, [2, 2, 4], -3, 3), cubeUpdates: normal(r, [2, 2, 4]) }),
    build: (b, x) => ({ rows: b.scatterAlong(x.ids!, x.updates!, 9), cube: b.scatterAlong(x.cubeIds!, x.cubeUpdates!, 3) }),
    magnitude: (b, x) => ({ rows: b.scatterAlong(x.ids!, x.updates!.abs(), 9), cube: b.scatterAlong(x.cubeIds!, x.cubeUpdates!.abs(), 3) }),
  },
  {
    name: "scatterAdd with repeated indices adding up",
    // More indices than rows in each: repeats are certain.
    inputs: (r) => ({ ids: int32(r, [6], -4, 4), updates: normal(r, [6, 3]), grid: int64(r, [2, 3], -5, 5), gridUpdates: normal(r, [2, 3, 2]), flat: int64(r, [5], 0, 3), flatUpdates: normal(r, [5]) }),
    build: (b, x) => ({ rows: b.scatterAdd(x.ids!, x.updates!, 4), grid: b.scatterAdd(x.grid!, x.gridUpdates!, 5), flat: b.scatterAdd(x.flat!, x.flatUpdates!, 3) }),
    magnitude: (b, x) => ({
      rows: b.scatterAdd(x.ids!, x.updates!.abs(), 4),
      grid: b.scatterAdd(x.grid!, x.gridUpdates!.abs(), 5),
      flat: b.scatterAdd(x.flat!, x.flatUpdates!.abs(), 3),
    }),
  },
  {
    name: "reshape and transpose with several perms",
    inputs: (r) => ({ x: normal(r, [3, 4, 5]), y: normal(r, [2, 3, 4, 5]), i: int64(r, [3, 7], -9, 9), m: normal(r, [17, 33]) }),
    build: (_b, { x, y, i, m }) => ({
      reshaped: x!.reshape([12, 5]),
      inferred: x!.reshape([5, -1]),
      flattened: x!.reshape([-1]),
      reshapedInt: i!.reshape([7, 3]),
      swap: m!.transpose([1, 0]), // odd sizes straddling a 16x16 tile
      inner: x!.transpose([0, 2, 1]),
      rotate: x!.transpose([2, 0, 1]),
      rotateBack: x!.transpose([1, 2, 0]),
      heads: y!.transpose([0, 2, 1, 3]), // [batch, seq, heads, dim] -> [batch, heads, seq, dim]
      scramble: y!.transpose([3, 1, 0, 2]),
      intTransposed: i!.transpose([1, 0]),
    }),
  },
  {
    name: "slice on several axes",
    inputs: (r) => ({ x: normal(r, [4, 5, 6]), i: int32(r, [6, 3], -9, 9) }),
    build: (_b, { x, i }) => ({
      first: x!.slice(0, 1, 3),
      middle: x!.slice(1, 0, 4),
      last: x!.slice(-1, 2, 5),
      single: x!.slice(2, 5, 6),
      whole: x!.slice(0, 0, 4),
      chained: x!.slice(0, 1, 4).slice(2, 1, 4),
      twoAxes: sliceAxes(x!, [1, 2], [3, 5], [0, 2]),
      threeAxes: sliceAxes(x!, [3, 1, 0], [4, 4, 6], [0, 1, 2]),
      ints: i!.slice(0, 2, 5),
    }),
  },
  {
    name: "concat on several axes with two and three parts",
    inputs: (r) => ({ a: normal(r, [2, 4, 5]), b: normal(r, [3, 4, 5]), c: normal(r, [3, 1, 5]), d: normal(r, [3, 2, 5]), e: normal(r, [3, 4, 2]), i: int64(r, [2, 3], -9, 9), j: int64(r, [2, 1], -9, 9), f: bools(r, [3]), g: bools(r, [2]) }),
    build: (gb, { a, b, c, d, e, i, j, f, g }) => ({
      first: gb.concat([a!, b!], 0),
      middle: gb.concat([c!, b!, d!], 1),
      last: gb.concat([e!, b!, e!], -1),
      onePart: gb.concat([c!], 1),
      ints: gb.concat([i!, j!], 1),
      flags: gb.concat([f!, g!], 0),
    }),
  },
  {
    name: "broadcastTo",
    inputs: (r) => ({ row: normal(r, [1, 3]), column: normal(r, [5, 1, 1]), vector: normal(r, [3]), scalar: normal(r, []), ints: int32(r, [2, 1], -9, 9), flags: bools(r, [1, 4]) }),
    build: (_b, x) => ({
      rows: x.row!.broadcastTo([4, 3]),
      columns: x.column!.broadcastTo([5, 2, 3]),
      leading: x.vector!.broadcastTo([2, 4, 3]),
      scalar: x.scalar!.broadcastTo([2, 3]),
      ints: x.ints!.broadcastTo([2, 7]),
      flags: x.flags!.broadcastTo([3, 4]),
    }),
  },
  {
    // Grouped-query attention works on [batch, kvHeads, group, seq, dim]; masks are [B, 1, 1, 1, S].
    name: "rank 5 and 6: broadcasting, transpose, slice, concat, matmul, reduce and softmax",
    inputs: (r) => ({ a: normal(r, [2, 1, 3, 1, 2, 1]), c: normal(r, [1, 4, 1, 5, 1, 3]), q: normal(r, [2, 1, 3, 4, 5]), k: normal(r, [1, 2, 1, 5, 3]), m: bools(r, [2, 1, 1, 1, 3]) }),
    build: (b, { a, c, q, k, m }) => {
      const scores = q!.matmul(k!); // [2, 2, 3, 4, 3]
      return {
        broadcastSum: a!.add(c!), // [2, 4, 3, 5, 2, 3]
        transposed: a!.add(c!).transpose([5, 3, 1, 0, 4, 2]),
        sliced: a!.add(c!).slice(3, 1, 4).slice(5, 2, 3),
        joined: b.concat([q!, q!.neg()], 3),
        scores,
        masked: b.where(m!, scores, b.scalar(-3.4028234663852886e38)).softmax(-1),
        reduced: scores.sum([1, 3], true),
        maxed: scores.max([0, 2, 4]),
      };
    },
    magnitude: (_b, { q, k }) => ({ scores: q!.abs().matmul(k!.abs()), reduced: q!.abs().matmul(k!.abs()).sum([1, 3], true) }),
  },
  {
    // One row per sequence over Gemma's 256000-token vocabulary: far longer than a workgroup.
    name: "vocabulary-sized rows: softmax, logSumExp, max, sum and takeAlong",
    inputs: (r) => ({ logits: normal(r, [2, 256000], 4), targets: int64(r, [2, 3], -256000, 256000) }),
    build: (_b, { logits, targets }) => ({
      probabilities: logits!.softmax(-1).slice(1, 0, 100),
      logSumExp: logits!.logSumExp(-1),
      max: logits!.max(-1),
      sum: logits!.sum(-1),
      picked: logits!.takeAlong(targets!),
    }),
    magnitude: (_b, { logits }) => ({ sum: logits!.abs().sum(-1) }),
  },
  {
    // 65535 x 64 = 4,194,240 items fill one dispatch dimension; past that kernels launch in 2D.
    name: "more items and rows than one dispatch dimension holds",
    inputs: (r) => ({ x: normal(r, [70001, 60]), y: normal(r, [60]) }),
    build: (_b, { x, y }) => ({ affine: x!.mul(y!).add(1), rowSums: x!.sum(-1), rowMax: x!.max(-1), rows: x!.softmax(-1).slice(0, 69990, 70001) }),
    magnitude: (_b, { x }) => ({ rowSums: x!.abs().sum(-1) }),
  },
];

/** The graph of a case: its outputs, plus `magnitude.<name>` outputs for the reference. */
function traceCase(testCase: Case, inputs: Record<string, HostTensor>, withMagnitudes: boolean): Graph {
  const b = new GraphBuilder();
  const x = Object.fromEntries(Object.entries(inputs).map(([name, tensor]) => [name, b.input(name, tensor.dtype, tensor.shape)]));
  const outputs = testCase.build(b, x);
  if (!withMagnitudes || !testCase.magnitude) return b.build(outputs);
  const magnitudes = Object.entries(testCase.magnitude(b, x)).map(([name, tensor]) => [`magnitude.${name}`, tensor] as const);
  return b.build({ ...outputs, ...Object.fromEntries(magnitudes) });
}

const inputsOf = (testCase: Case): Record<string, HostTensor> => testCase.inputs(new Random(seedOf(testCase.name)));

/** Runs a case on both backends: the GPU's outputs, the reference's (with magnitudes) and the GPU graph. */
async function runCase(testCase: Case): Promise<{ graph: Graph; actual: Record<string, HostTensor>; expected: Record<string, HostTensor> }> {
  const inputs = inputsOf(testCase);
  const graph = traceCase(testCase, inputs, false);
  const executable = await backend().compile(graph);
  try {
    const actual = await executable.run(inputs);
    const expected = await (await reference.compile(traceCase(testCase, inputs, true))).run(inputs);
    return { graph, actual, expected };
  } finally {
    await executable.dispose();
  }
}

// Exhaustive by construction: the compiler rejects a missing or misspelt key.
const ALL_KINDS: Readonly<Record<OpKind, true>> = {
  input: true,
  constant: true,
  range: true,
  unary: true,
  binary: true,
  compare: true,
  where: true,
  cast: true,
  matmul: true,
  matmulNBits: true,
  reduce: true,
  softmax: true,
  gather: true,
  scatterAdd: true,
  takeAlong: true,
  scatterAlong: true,
  reshape: true,
  transpose: true,
  slice: true,
  concat: true,
  broadcastTo: true,
};
const ALL_UNARY: Readonly<Record<UnaryOpName, true>> = { neg: true, exp: true, log: true, tanh: true, erf: true, sqrt: true, rsqrt: true, abs: true, cos: true, sin: true };
const ALL_BINARY: Readonly<Record<BinaryOpName, true>> = { add: true, sub: true, mul: true, div: true, pow: true, max: true, min: true };
const ALL_COMPARE: Readonly<Record<CompareOpName, true>> = { less: true, lessOrEqual: true, greater: true, greaterOrEqual: true, equal: true };
const ALL_REDUCE: Readonly<Record<ReduceOpName, true>> = { sum: true, max: true };
const CAST_TYPES: readonly DType[] = ["float32", "int32", "int64", "bool"];

/** Op names covered by a set of graphs: "matmul", "unary.rsqrt", "reduce.max", "cast.int64>bool", ... */
function coveredOps(graphs: readonly Graph[]): Set<string> {
  const covered = new Set<string>();
  for (const graph of graphs) {
    for (const node of graph.nodes) {
      const { op } = node;
      covered.add(op.kind);
      if ("op" in op) covered.add(`${op.kind}.${op.op}`);
      if (op.kind === "cast") covered.add(`cast.${graph.nodes[node.inputs[0]!]!.dtype}>${op.to}`);
    }
  }
  return covered;
}

/** [batch, seq, 8] projected and joined after past [batch, past, 5]: dims in matmul, concat, range, slice, reshape. */
function symbolicGraph(): Graph {
  const b = new GraphBuilder();
  const x = b.input("x", "float32", ["batch", "seq", 8]);
  const past = b.input("past", "float32", ["batch", "past", 5]);
  const w = b.constant(normal(new Random(3), [8, 5]));
  const projected = x.matmul(w); // [batch, seq, 5]
  const joined = b.concat([past, projected], 1); // [batch, past+seq, 5]
  const positions = b.range("past", "past+seq").cast("float32").reshape(["seq", 1]); // [seq, 1]
  return b.build({
    probabilities: joined.softmax(-1),
    scores: joined.matmul(joined.transpose([0, 2, 1])), // [batch, past+seq, past+seq]
    tail: joined.slice(1, "past", "past+seq").add(positions), // [batch, seq, 5]
    rowSums: projected.sum(1), // [batch, 5]
    flat: projected.reshape(["batch", -1]), // [batch, 5*seq]
    rowMax: joined.max(-1, true),
    lastPosition: b.range(0, "seq").slice(0, "seq-1", "seq"), // [1]
  });
}

// ---------------------------------------------------------------------------------------------

describe.skipIf(!gpu)(SUITE, () => {
  afterAll(() => gpu?.destroy());

  it("the table covers every op kind and op name, and casts between all of float32, int32, int64, bool", () => {
    const covered = coveredOps(CASES.map((c) => traceCase(c, inputsOf(c), false)));
    const wanted = [
      ...Object.keys(ALL_KINDS),
      ...Object.keys(ALL_UNARY).map((op) => `unary.${op}`),
      ...Object.keys(ALL_BINARY).map((op) => `binary.${op}`),
      ...Object.keys(ALL_COMPARE).map((op) => `compare.${op}`),
      ...Object.keys(ALL_REDUCE).map((op) => `reduce.${op}`),
      ...CAST_TYPES.flatMap((from) => CAST_TYPES.filter((to) => to !== from).map((to) => `cast.${from}>${to}`)),
      "cast.float32>float16",
      "cast.float32>bfloat16",
    ];
    expect(wanted.filter((op) => !covered.has(op))).toEqual([]);
  });

  describe("op by op, random inputs", () => {
    for (const testCase of CASES) {
      it(testCase.name, async () => {
        const { graph, actual, expected } = await runCase(testCase);
        assertOutputsMatch(graph, actual, expected, testCase.name);
      });
    }
  });

  it("the comparison fails on a perturbed expectation (so the checks above can fail)", async () => {
    const matmulCase = CASES.find((c) => c.name.startsWith("matmul, plain"))!;
    const { graph, actual, expected } = await runCase(matmulCase);
    assertOutputsMatch(graph, actual, expected, "unperturbed"); // passes as it is
    const perturb = (tensor: HostTensor, index: number, delta: (v: number) => number): HostTensor => {
      const values = numbers(tensor);
      values[index] = delta(values[index]!);
      return tensor.dtype === "int64" ? HostTensor.int64(tensor.shape, values) : new HostTensor(tensor.dtype, tensor.shape, Float32Array.from(values));
    };
    const m2 = expected["m2"]!; // [17, 19], magnitudes ~ sqrt(33)
    const bound = TOLERANCE * Math.max(1, numbers(expected["magnitude.m2"]!)[100]!);
    // Three times the bound fails; a third of it passes.
    expect(() => assertOutputsMatch(graph, actual, { ...expected, m2: perturb(m2, 100, (v) => v + 3 * bound) }, "perturbed")).toThrow(/m2 .*1 of 323 elements differ: \[100\]/);
    expect(() => assertOutputsMatch(graph, actual, { ...expected, m2: perturb(m2, 100, (v) => v + bound / 3) }, "within the bound")).not.toThrow();
    // Without the magnitude, the relative bound on the element itself is tighter still.
    expect(() => assertClose(actual["m3"]!, perturb(expected["m3"]!, 0, (v) => v * (1 + 3 * TOLERANCE) + Math.sign(v) * 3 * TOLERANCE), "m3")).toThrow(/m3 float32\[65, 130\]: \d+ of 8450 elements differ: \[0\] got/);
    // Shape, dtype, NaN and integers off by one all fail.
    expect(() => assertClose(actual["m1"]!, m2, "m1")).toThrow(/shape/);
    expect(() => assertClose(actual["m1"]!, HostTensor.int32([1, 1], [0]), "m1")).toThrow(/dtype/);
    expect(() => assertClose(actual["m1"]!, perturb(expected["m1"]!, 0, () => Number.NaN), "m1")).toThrow(/got .*expected NaN/);
    const ids = HostTensor.int64([3], [1, -2, 3]);
    expect(() => assertClose(ids, perturb(ids, 1, (v) => v + 1), "ids")).toThrow(/got -2, expected -1/);
  });

  it("one executable with symbolic dims runs at two sizes", async () => {
    const graph = symbolicGraph();
    const executable = await backend().compile(graph);
    const expectedExecutable = await reference.compile(graph);
    const random = new Random(11);
    for (const [batch, seq, pastLength] of [
      [2, 3, 4],
      [3, 7, 1],
    ] as const) {
      const inputs = { x: normal(random, [batch, seq, 8]), past: normal(random, [batch, pastLength, 5]) };
      const actual = await executable.run(inputs);
      expect([...actual["scores"]!.shape]).toEqual([batch, pastLength + seq, pastLength + seq]);
      assertOutputsMatch(graph, actual, await expectedExecutable.run(inputs), `batch ${batch}, seq ${seq}, past ${pastLength}`);
    }
    await executable.dispose();
  });

  it("empty tensors: a symbolic dim of 0 (the first step's empty KV cache) and reductions over nothing", async () => {
    const graph = symbolicGraph();
    const executable = await backend().compile(graph);
    const inputs = { x: normal(new Random(12), [2, 3, 8]), past: HostTensor.float32([2, 0, 5]) };
    assertOutputsMatch(graph, await executable.run(inputs), await (await reference.compile(graph)).run(inputs), "past 0");
    await executable.dispose();
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [2, 0]);
    const empty = b.build({ sum: x.sum(-1), max: x.max(-1), same: x.exp(), joined: b.concat([x, b.input("y", "float32", [2, 3])], 1) });
    const emptyInputs = { x: HostTensor.float32([2, 0]), y: normal(new Random(13), [2, 3]) };
    const emptyExecutable = await backend().compile(empty);
    assertOutputsMatch(empty, await emptyExecutable.run(emptyInputs), await (await reference.compile(empty)).run(emptyInputs), "reductions over an empty axis");
    await emptyExecutable.dispose();
  });


  it("concurrent runs, of one executable and of two, each get their own results", async () => {
    const batched = CASES.find((c) => c.name.startsWith("matmul, batched"))!;
    const unary = CASES.find((c) => c.name.startsWith("unary"))!;
    const graphs = [batched, unary].map((c) => traceCase(c, inputsOf(c), false));
    const executables = await Promise.all(graphs.map((graph) => backend().compile(graph)));
    // Three runs of the matmul executable and one of the unary one, all in flight at once.
    const runs = [1, 2, 3, 4].map((seed) => {
      const which = seed === 4 ? 1 : 0;
      return { which, inputs: [batched, unary][which]!.inputs(new Random(seed)) };
    });
    const results = await Promise.all(runs.map(({ which, inputs }) => executables[which]!.run(inputs)));
    const failures: string[] = [];
    for (const [i, { which, inputs }] of runs.entries()) {
      try {
        assertOutputsMatch(graphs[which]!, results[i]!, await (await reference.compile(graphs[which]!)).run(inputs), `concurrent run ${i}`);
      } catch (error) {
        failures.push((error as Error).message.split("\n")[0]!);
      }
    }
    for (const executable of executables) await executable.dispose();
    await expect(executables[0]!.run(runs[0]!.inputs)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(failures).toEqual([]);
  });

  describe("gradient graphs", () => {
    async function checkGradients(graph: Graph, inputs: Record<string, HostTensor>, what: string): Promise<void> {
      const executable = await backend().compile(graph);
      const actual = await executable.run(inputs);
      await executable.dispose();
      assertOutputsMatch(graph, actual, await (await reference.compile(graph)).run(inputs), what);
    }

    it("softmax(x W + b) * y, summed", async () => {
      const r = new Random(21);
      const b = new GraphBuilder();
      const x = b.input("x", "float32", [4, 6]);
      const w = b.input("w", "float32", [6, 5]);
      const bias = b.input("bias", "float32", [5]);
      const y = b.input("y", "float32", [4, 5]);
      const forward = b.build({ loss: x.matmul(w).add(bias).softmax(-1).mul(y).sum() });
      const graph = gradients(forward, { loss: "loss", wrt: ["x", "w", "bias", "y"] });
      await checkGradients(graph, { x: normal(r, [4, 6]), w: normal(r, [6, 5], 0.5), bias: normal(r, [5]), y: normal(r, [4, 5]) }, "softmax(xW+b)*y");
    });

    it("embedding, RMSNorm, GELU, tanh soft-cap and a masked cross-entropy", async () => {
      const r = new Random(22);
      const [vocab, dim, hidden, tokens] = [11, 8, 12, 6];
      const b = new GraphBuilder();
      const table = b.input("table", "float32", [vocab, dim]);
      const ids = b.input("ids", "int64", [tokens]);
      const norm = b.input("norm", "float32", [dim]);
      const up = b.input("up", "float32", [dim, hidden]);
      const down = b.input("down", "float32", [hidden, vocab]);
      const targets = b.input("targets", "int64", [tokens]);
      const h = rmsNorm(table.gather(ids), norm, 1e-6); // gather -> scatterAdd in the backward
      const logits = softCap(geluTanh(h.matmul(up)).matmul(down), 5);
      const forward = b.build({ loss: crossEntropy(logits, targets), logits });
      const graph = gradients(forward, { loss: "loss", wrt: ["table", "norm", "up", "down"] });
      const inputs = {
        table: normal(r, [vocab, dim]),
        ids: HostTensor.int64([tokens], [3, 0, 3, -1, 7, 3]), // repeated rows sum their gradients
        norm: normal(r, [dim], 0.1),
        up: normal(r, [dim, hidden], 0.5),
        down: normal(r, [hidden, vocab], 0.5),
        targets: HostTensor.int64([tokens], [1, -100, 10, 4, 4, 0]), // -100: ignored
      };
      await checkGradients(graph, inputs, "rmsNorm/gelu/softCap/crossEntropy");
    });
  });

  describe("errors", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [3, 4]);
    const ids = b.input("ids", "int64", [5]);
    const graph = b.build({ y: x.gather(ids).sum(-1) });
    const good = () => ({ x: normal(new Random(31), [3, 4]), ids: HostTensor.int64([5], [0, 2, -1, -3, 1]) });

    it("a missing input, a wrong dtype and a wrong shape raise typed errors naming the input", async () => {
      const executable = await backend().compile(graph);
      const typed = (error: unknown): boolean => error instanceof InvalidArgumentError || error instanceof ShapeMismatchError;
      const cases: [Record<string, HostTensor>, RegExp][] = [
        [{ x: good().x }, /'ids'.*missing/],
        [{ ...good(), ids: HostTensor.int32([5], [0, 1, 2, 1, 0]) }, /'ids'.*int64.*int32/],
        [{ ...good(), x: HostTensor.float32([4, 3]) }, /'x'/],
        [{ ...good(), idz: HostTensor.int64([1], [0]) }, /'idz'/],
      ];
      for (const [inputs, message] of cases) {
        const error = await executable.run(inputs).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(typed(error), `${message}: ${String(error)}`).toBe(true);
        expect(String(error)).toMatch(message);
      }
      // Still usable after refusing bad inputs.
      assertOutputsMatch(graph, await executable.run(good()), await (await reference.compile(graph)).run(good()), "after errors");
      await executable.dispose();
    });

    it("a gather index out of range raises InvalidArgumentError after the run, and the executable still works", async () => {
      const executable = await backend().compile(graph);
      for (const bad of [3, -4, 1000]) {
        const inputs = { ...good(), ids: HostTensor.int64([5], [0, 1, bad, 2, 0]) };
        await expect(executable.run(inputs)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(reference.compile(graph).then((e) => e.run(inputs))).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      assertOutputsMatch(graph, await executable.run(good()), await (await reference.compile(graph)).run(good()), "after an index out of range");
      await executable.dispose();
    });

    it("takeAlong, scatterAlong and scatterAdd indices out of range raise InvalidArgumentError too", async () => {
      // One builder per graph: a graph holds every node its builder made, live or not.
      const indexGraph = (build: (b: GraphBuilder, data: SymbolicTensor, along: SymbolicTensor, rows: SymbolicTensor, updates: SymbolicTensor) => SymbolicTensor): Graph => {
        const gb = new GraphBuilder();
        const [data, along, rows, updates] = [gb.input("data", "float32", [2, 4]), gb.input("along", "int32", [2, 3]), gb.input("rows", "int32", [3]), gb.input("updates", "float32", [3, 4])];
        return gb.build({ y: build(gb, data, along, rows, updates) });
      };
      const indexGraphs = {
        takeAlong: indexGraph((_b, data, along) => data.takeAlong(along)),
        scatterAlong: indexGraph((gb, data, along) => gb.scatterAlong(along, data.slice(1, 0, 3), 4)),
        scatterAdd: indexGraph((gb, _data, _along, rows, updates) => gb.scatterAdd(rows, updates, 2)),
      };
      // One index out of range in each: 4 of size 4 (along), -3 of 2 rows.
      const inputs = { data: normal(new Random(32), [2, 4]), along: HostTensor.int32([2, 3], [0, 3, -4, 1, 4, 2]), rows: HostTensor.int32([3], [0, -3, 1]), updates: normal(new Random(33), [3, 4]) };
      const failures: string[] = [];
      for (const [name, indexGraph] of Object.entries(indexGraphs)) {
        const executable = await backend().compile(indexGraph);
        const error = await executable.run(inputs).then(
          () => undefined,
          (e: unknown) => e,
        );
        await executable.dispose();
        if (!(error instanceof InvalidArgumentError)) failures.push(`${name}: ${error === undefined ? "ran without an error" : String(error)}`);
      }
      expect(failures).toEqual([]);
    });
  });

  describe("resident tensors", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [3, 4]);
    const w = b.input("w", "float32", [4, 5]);
    const ids = b.input("ids", "int32", [2]);
    const h = x.matmul(w).tanh();
    const graph = b.build({ h, picked: h.gather(ids), flags: h.greater(0) });

    it("upload, run on uploaded tensors, runResident and read back the same outputs", async () => {
      const r = new Random(51);
      const inputs = { x: normal(r, [3, 4]), w: normal(r, [4, 5]), ids: HostTensor.int32([2], [2, -3]) };
      const executable = await backend().compile(graph);
      const fromHost = await executable.run(inputs);
      assertOutputsMatch(graph, fromHost, await (await reference.compile(graph)).run(inputs), "host inputs");

      const weight = backend().upload(inputs.w);
      expect(weight.dtype).toBe("float32");
      expect([...weight.shape]).toEqual([4, 5]);
      assertClose(await backend().read(weight), inputs.w, "weight read back");
      const uploadedIds = backend().upload(inputs.ids);
      const uploaded = await executable.run({ ...inputs, w: weight, ids: uploadedIds });
      for (const name of Object.keys(fromHost)) assertClose(uploaded[name]!, fromHost[name]!, `uploaded: ${name}`);
      backend().free(uploadedIds);

      const resident = await executable.runResident({ ...inputs, w: weight });
      expect(Object.keys(resident).sort()).toEqual(Object.keys(fromHost).sort());
      for (const name of Object.keys(fromHost)) {
        expect(resident[name]!.dtype).toBe(fromHost[name]!.dtype);
        expect([...resident[name]!.shape]).toEqual([...fromHost[name]!.shape]);
        assertClose(await backend().read(resident[name]!), fromHost[name]!, `resident: ${name}`);
      }
      // A resident output feeds the next run of another graph.
      const gb = new GraphBuilder();
      const again = gb.build({ y: gb.input("h", "float32", [3, 5]).mul(2).sum(-1) });
      const second = await backend().compile(again);
      const chained = await second.run({ h: resident["h"]! });
      assertClose(chained["y"]!, (await (await reference.compile(again)).run({ h: fromHost["h"]! }))["y"]!, "a resident output as the next input");
      for (const tensor of Object.values(resident)) backend().free(tensor);
      backend().free(weight);
      await expect(executable.run({ ...inputs, w: weight })).rejects.toThrow(/freed/);
      await second.dispose();
      await executable.dispose();
    });

    it("views of a flat buffer as inputs, at aligned and unaligned offsets, equal the host slices", async () => {
      const r = new Random(52);
      const flat = normal(r, [300]);
      const flatIds = int32(r, [50], -3, 3);
      const flatBlocks = uint8(r, [600]);
      const flatScales = positive(r, [40]);
      const parents = { x: backend().upload(flat), ids: backend().upload(flatIds), blocks: backend().upload(flatBlocks), scales: backend().upload(flatScales) };
      const gb = new GraphBuilder();
      const vx = gb.input("x", "float32", [3, 4]);
      const vw = gb.input("w", "float32", [4, 5]);
      const vids = gb.input("ids", "int32", [2]);
      const v = gb.input("v", "float32", [2, 32]);
      const blocks = gb.input("blocks", "uint8", [3, 1, 16]);
      const scales = gb.input("scales", "float32", [3]);
      const viewGraph = gb.build({ y: vx.matmul(vw).gather(vids), q: gb.matmulNBits(v, blocks, scales, 4) });
      const executable = await backend().compile(viewGraph);
      const expectedExecutable = await reference.compile(viewGraph);
      const v0 = normal(r, [2, 32]);
      // Offsets in elements: 64 floats and 256 bytes are 256-byte aligned (WebGPU's binding
      // offset alignment); the others are not, as weights packed back to back in one buffer are.
      const layouts: Record<string, { x: number; w: number; ids: number; blocks: number; scales: number }> = {
        aligned: { x: 0, w: 64, ids: 0, blocks: 256, scales: 0 },
        unaligned: { x: 13, w: 7, ids: 3, blocks: 20, scales: 5 },
      };
      const failures: string[] = [];
      for (const [name, at] of Object.entries(layouts)) {
        const hostInputs = {
          x: hostView(flat, at.x, [3, 4]),
          w: hostView(flat, at.w, [4, 5]),
          ids: hostView(flatIds, at.ids, [2]),
          v: v0,
          blocks: hostView(flatBlocks, at.blocks, [3, 1, 16]),
          scales: hostView(flatScales, at.scales, [3]),
        };
        const views = {
          x: backend().view(parents.x, at.x, [3, 4]),
          w: backend().view(parents.x, at.w, [4, 5]),
          ids: backend().view(parents.ids, at.ids, [2]),
          blocks: backend().view(parents.blocks, at.blocks, [3, 1, 16]),
          scales: backend().view(parents.scales, at.scales, [3]),
        };
        try {
          expect([...views.w.shape]).toEqual([4, 5]);
          assertClose(await backend().read(views.w), hostInputs.w, `${name}: view read back`);
          const fromViews = await executable.run({ ...views, v: v0 });
          const fromHost = await executable.run(hostInputs);
          for (const output of ["y", "q"]) assertClose(fromViews[output]!, fromHost[output]!, `${name}: ${output} from views vs host slices`);
          assertOutputsMatch(viewGraph, fromHost, await expectedExecutable.run(hostInputs), `${name}: host slices vs reference`);
        } catch (error) {
          failures.push((error as Error).message);
        }
        for (const view of Object.values(views)) backend().free(view);
      }
      expect(failures).toEqual([]);
      // Freeing the views leaves their parents alone.
      assertClose(await backend().read(parents.x), flat, "the parent after its views were freed");
      for (const parent of Object.values(parents)) backend().free(parent);
      await executable.dispose();
    });
  });
});
