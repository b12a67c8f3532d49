// The onnxruntime-node backend: every IR op kind run through graphToOnnx + InferenceSession and
// checked twice, against values computed by hand in float64 (the table below) and against the
// pure-JS ReferenceBackend, the oracle. Also a fused matmul/softmax/reduce graph, session
// caching, stable bytes, and the typed errors of bad inputs.
import onnxProto from "onnx-proto";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import {
  BackendError,
  GraphBuilder,
  HostTensor,
  InvalidArgumentError,
  Random,
  ReferenceBackend,
  UnsupportedDTypeError,
  type BinaryOpName,
  type CompareOpName,
  type Graph,
  type OpKind,
  type ReduceOpName,
  type SymbolicTensor,
  type UnaryOpName,
} from "../src/index.js";
import { graphToOnnx, OnnxBackend } from "../src/node.js";

const TOLERANCE = 1e-5;

type DecodedGraph = Omit<onnxProto.onnx.GraphProto, "node"> & { node: onnxProto.onnx.NodeProto[] };

/** The GraphProto of model bytes; protobufjs decodes absent repeated fields as []. */
function decodeGraph(bytes: Uint8Array): DecodedGraph {
  return onnxProto.onnx.ModelProto.decode(bytes).graph as DecodedGraph;
}

/** Every element of a tensor as a JS number (int64 via Number, bool as 0/1). */
function numbers(tensor: HostTensor): number[] {
  return Array.from(tensor.data as ArrayLike<number | bigint>, (v) => Number(v));
}

function expectClose(actual: HostTensor, expected: readonly number[], what: string): void {
  const values = numbers(actual);
  expect(values.length, what).toBe(expected.length);
  values.forEach((value, i) => {
    const want = expected[i]!;
    const error = Math.abs(value - want);
    if (!(error <= TOLERANCE * Math.max(1, Math.abs(want)))) {
      expect.fail(`${what}[${i}] = ${value}, expected ${want} (error ${error})`);
    }
  });
}

function expectSameTensor(actual: HostTensor, expected: HostTensor, what: string): void {
  expect(actual.dtype, what).toBe(expected.dtype);
  expect([...actual.shape], what).toEqual([...expected.shape]);
  expectClose(actual, numbers(expected), what);
}

// Small float64 helpers for the expected values.
const map = (xs: readonly number[], f: (x: number) => number): number[] => xs.map(f);
const zip = (a: readonly number[], b: readonly number[], f: (x: number, y: number) => number): number[] => a.map((x, i) => f(x, b[i]!));
/** Repeats a row vector over `rows` rows: numpy broadcasting of [n] against [rows, n]. */
const tile = (row: readonly number[], rows: number): number[] => Array.from({ length: rows }, () => row).flat();

function matmul(a: readonly number[], b: readonly number[], m: number, k: number, n: number): number[] {
  const out = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return out;
}

function softmaxRows(x: readonly number[], rows: number, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = x.slice(r * cols, (r + 1) * cols);
    const max = Math.max(...row);
    const exps = row.map((v) => Math.exp(v - max));
    const sum = exps.reduce((s, v) => s + v, 0);
    out.push(...exps.map((v) => v / sum));
  }
  return out;
}

// erf has no Math function; values from mpmath (erf(-1), erf(-0.25), erf(0.5), erf(2)).
const ERF: Readonly<Record<number, number>> = { [-1]: -0.8427007929497149, [-0.25]: -0.2763263901682369, 0.5: 0.5204998778130465, 2: 0.9953222650189527 };

interface Case {
  name: string;
  build(b: GraphBuilder): Record<string, SymbolicTensor>;
  inputs: Record<string, HostTensor>;
  /** Expected outputs computed in float64 by hand, compared within TOLERANCE. */
  expected: Record<string, { shape: number[]; values: number[] }>;
}

const X = [-1, -0.25, 0.5, 2];
const P = [0.25, 1, 2.5, 9];
const A = [1, -2, 3, 0.5, 4, -6]; // [2, 3]
const B = [2, -2, 0.5]; // [3]
const POSITIVE = [1.5, 2, 0.25, 3, 1, 4]; // [2, 3]

// The comparison table: one row per op (or small group of ops), every IR op kind covered.
const CASES: Case[] = [
  {
    name: "unary, and range",
    build: (b) => {
      const x = b.input("x", "float32", [4]);
      const p = b.input("p", "float32", [4]);
      return { neg: x.neg(), exp: x.exp(), tanh: x.tanh(), erf: x.erf(), abs: x.abs(), cos: x.cos(), sin: x.sin(), log: p.log(), sqrt: p.sqrt(), rsqrt: p.rsqrt(), range: b.range(2, 5) };
    },
    inputs: { x: HostTensor.float32([4], X), p: HostTensor.float32([4], P) },
    expected: {
      neg: { shape: [4], values: map(X, (v) => -v) },
      exp: { shape: [4], values: map(X, Math.exp) },
      tanh: { shape: [4], values: map(X, Math.tanh) },
      erf: { shape: [4], values: map(X, (v) => ERF[v]!) },
      abs: { shape: [4], values: map(X, Math.abs) },
      cos: { shape: [4], values: map(X, Math.cos) },
      sin: { shape: [4], values: map(X, Math.sin) },
      log: { shape: [4], values: map(P, Math.log) },
      sqrt: { shape: [4], values: map(P, Math.sqrt) },
      rsqrt: { shape: [4], values: map(P, (v) => 1 / Math.sqrt(v)) },
      range: { shape: [3], values: [2, 3, 4] },
    },
  },
  {
    name: "binary with broadcasting",
    build: (b) => {
      const a = b.input("a", "float32", [2, 3]);
      const c = b.input("b", "float32", [3]);
      const p = b.input("p", "float32", [2, 3]);
      return { add: a.add(c), sub: a.sub(c), mul: a.mul(c), div: a.div(c), pow: p.pow(c), max: a.maximum(c), min: a.minimum(c), scalar: a.mul(0.5).add(1) };
    },
    inputs: { a: HostTensor.float32([2, 3], A), b: HostTensor.float32([3], B), p: HostTensor.float32([2, 3], POSITIVE) },
    expected: {
      add: { shape: [2, 3], values: zip(A, tile(B, 2), (x, y) => x + y) },
      sub: { shape: [2, 3], values: zip(A, tile(B, 2), (x, y) => x - y) },
      mul: { shape: [2, 3], values: zip(A, tile(B, 2), (x, y) => x * y) },
      div: { shape: [2, 3], values: zip(A, tile(B, 2), (x, y) => x / y) },
      pow: { shape: [2, 3], values: zip(POSITIVE, tile(B, 2), Math.pow) },
      max: { shape: [2, 3], values: zip(A, tile(B, 2), Math.max) },
      min: { shape: [2, 3], values: zip(A, tile(B, 2), Math.min) },
      scalar: { shape: [2, 3], values: map(A, (v) => v * 0.5 + 1) },
    },
  },
  {
    name: "integer arithmetic (positions, as masks use them)",
    build: (b) => {
      const q = b.input("q", "int64", [3, 1]);
      const k = b.input("k", "int64", [4]);
      const i = b.input("i", "int32", [3]);
      return { distance: q.sub(k), later: q.maximum(k), doubled: i.mul(2).add(1) };
    },
    inputs: { q: HostTensor.int64([3, 1], [0, 2, 3]), k: HostTensor.int64([4], [0, 1, 2, 3]), i: HostTensor.int32([3], [-4, 0, 7]) },
    expected: {
      distance: { shape: [3, 4], values: [0, -1, -2, -3, 2, 1, 0, -1, 3, 2, 1, 0] },
      later: { shape: [3, 4], values: [0, 1, 2, 3, 2, 2, 2, 3, 3, 3, 3, 3] },
      doubled: { shape: [3], values: [-7, 1, 15] },
    },
  },
  {
    name: "compare",
    build: (b) => {
      const a = b.input("a", "float32", [2, 3]);
      const c = b.input("b", "float32", [3]);
      const q = b.input("q", "int64", [3, 1]);
      const k = b.input("k", "int64", [4]);
      return {
        less: a.less(c),
        lessOrEqual: a.lessOrEqual(c),
        greater: a.greater(c),
        greaterOrEqual: a.greaterOrEqual(c),
        equal: a.equal(c),
        // A sliding-window causal mask: 0 <= q - k <= 1.
        window: q.sub(k).lessOrEqual(1).equal(q.greaterOrEqual(k)),
      };
    },
    inputs: {
      a: HostTensor.float32([2, 3], [2, -3, 0.5, 1, -2, 4]),
      b: HostTensor.float32([3], B),
      q: HostTensor.int64([3, 1], [0, 2, 3]),
      k: HostTensor.int64([4], [0, 1, 2, 3]),
    },
    expected: {
      less: { shape: [2, 3], values: [0, 1, 0, 1, 0, 0] },
      lessOrEqual: { shape: [2, 3], values: [1, 1, 1, 1, 1, 0] },
      greater: { shape: [2, 3], values: [0, 0, 0, 0, 0, 1] },
      greaterOrEqual: { shape: [2, 3], values: [1, 0, 1, 0, 1, 1] },
      equal: { shape: [2, 3], values: [1, 0, 1, 0, 1, 0] },
      // (q - k <= 1) == (q >= k): true where both hold or neither does.
      window: { shape: [3, 4], values: [1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1] },
    },
  },
  {
    name: "where",
    build: (b) => {
      const c = b.input("c", "bool", [2, 1]);
      const t = b.input("t", "float32", [2, 3]);
      return { out: b.where(c, t, b.scalar(-1e9)) };
    },
    inputs: { c: new HostTensor("bool", [2, 1], Uint8Array.from([1, 0])), t: HostTensor.float32([2, 3], A) },
    expected: { out: { shape: [2, 3], values: [...A.slice(0, 3), -1e9, -1e9, -1e9] } },
  },
  {
    name: "cast",
    build: (b) => {
      const x = b.input("x", "float32", [4]);
      const i = b.input("i", "int32", [3]);
      const l = b.input("l", "int64", [3]);
      const h = b.input("h", "float16", [3]);
      return {
        toInt: x.cast("int32"),
        toBool: x.cast("bool"),
        fromBool: x.greater(0).cast("float32"),
        fromInt: i.cast("float32"),
        fromInt64: l.cast("int32"),
        fromHalf: h.cast("float32"),
        toHalf: x.cast("float16"),
      };
    },
    inputs: {
      x: HostTensor.float32([4], [0, 2, 7.5, -3]),
      i: HostTensor.int32([3], [-5, 0, 1 << 20]),
      l: HostTensor.int64([3], [-1, 0, 123456]),
      h: HostTensor.float32([3], [1.5, -2, 0.25]).toHalf("float16"),
    },
    expected: {
      toInt: { shape: [4], values: [0, 2, 7, -3] },
      toBool: { shape: [4], values: [0, 1, 1, 1] },
      fromBool: { shape: [4], values: [0, 1, 1, 0] },
      fromInt: { shape: [3], values: [-5, 0, 1 << 20] },
      fromInt64: { shape: [3], values: [-1, 0, 123456] },
      fromHalf: { shape: [3], values: [1.5, -2, 0.25] },
      // float16 words of 0, 2, 7.5 and -3.
      toHalf: { shape: [4], values: [0x0000, 0x4000, 0x4780, 0xc200] },
    },
  },
  {
    // One block of 32 per row. Activations of +-1 and 1 are exact in int8, so onnxruntime's
    // int8-activation kernel (accuracy_level 4) gives these values exactly too.
    name: "matmulNBits, 8 and 4 bits",
    build: (b) => {
      const x = b.input("x", "float32", [2, 32]);
      const codes8 = Uint8Array.from({ length: 64 }, (_, i) => (i < 32 ? 128 + i : 127)); // rows 0.5 j and -2
      const blocks8 = b.constant(new HostTensor("uint8", [2, 1, 32], codes8));
      const scales8 = b.constant(HostTensor.float32([2], [0.5, 2]));
      const codes4 = Uint8Array.from({ length: 32 }, (_, i) => (i < 16 ? ((2 * i) % 16) | (((2 * i + 1) % 16) << 4) : 0x99)); // (j % 16 - 8) / 4, then 0.25
      const blocks4 = b.constant(new HostTensor("uint8", [2, 1, 16], codes4));
      const scales4 = b.constant(HostTensor.float32([2], [0.25, 0.25]));
      return { q8: b.matmulNBits(x, blocks8, scales8, 8), q4: b.matmulNBits(x, blocks4, scales4, 4) };
    },
    inputs: { x: HostTensor.float32([2, 32], Array.from({ length: 64 }, (_, i) => (i < 32 ? 1 : i % 2 === 0 ? 1 : -1))) },
    expected: {
      q8: { shape: [2, 2], values: [248, -64, -8, 0] },
      q4: { shape: [2, 2], values: [-4, 8, -4, 0] },
    },
  },
  {
    name: "matmul, plain and batched with broadcasting",
    build: (b) => {
      const a = b.input("a", "float32", [2, 3]);
      const w = b.constant(HostTensor.float32([3, 2], [1, 2, 3, 4, 5, 6]));
      const batch = b.input("batch", "float32", [2, 1, 3]);
      return { plain: a.matmul(w), batched: batch.matmul(w) };
    },
    inputs: { a: HostTensor.float32([2, 3], A), batch: HostTensor.float32([2, 1, 3], A) },
    expected: {
      plain: { shape: [2, 2], values: matmul(A, [1, 2, 3, 4, 5, 6], 2, 3, 2) },
      batched: { shape: [2, 1, 2], values: matmul(A, [1, 2, 3, 4, 5, 6], 2, 3, 2) },
    },
  },
  {
    name: "reduce sum and max",
    build: (b) => {
      const a = b.input("a", "float32", [2, 3]);
      return { sumRows: a.sum(1), sumAll: a.sum(), maxCols: a.max(0, true), maxAll: a.max([0, 1]), mean: a.mean(-1, true), none: a.sum([]) };
    },
    inputs: { a: HostTensor.float32([2, 3], A) },
    expected: {
      sumRows: { shape: [2], values: [2, -1.5] },
      sumAll: { shape: [], values: [0.5] },
      maxCols: { shape: [1, 3], values: [1, 4, 3] },
      maxAll: { shape: [], values: [4] },
      mean: { shape: [2, 1], values: [2 / 3, -0.5] },
      none: { shape: [2, 3], values: A },
    },
  },
  {
    name: "softmax",
    build: (b) => {
      const a = b.input("a", "float32", [2, 3]);
      return { last: a.softmax(), first: a.softmax(0), logSumExp: a.logSumExp(-1) };
    },
    inputs: { a: HostTensor.float32([2, 3], A) },
    expected: {
      last: { shape: [2, 3], values: softmaxRows(A, 2, 3) },
      // Softmax over axis 0 of [2, 3] is softmax over the rows of its transpose, transposed back.
      first: { shape: [2, 3], values: ((t) => [0, 2, 4, 1, 3, 5].map((i) => t[i]!))(softmaxRows([1, 0.5, -2, 4, 3, -6], 3, 2)) },
      logSumExp: { shape: [2], values: [0, 1].map((r) => Math.log(A.slice(r * 3, r * 3 + 3).reduce((s, v) => s + Math.exp(v), 0))) },
    },
  },
  {
    name: "gather",
    build: (b) => {
      const table = b.input("table", "float32", [4, 2]);
      const ids32 = b.input("ids32", "int32", [3]);
      const ids64 = b.input("ids64", "int64", [2, 2]);
      return { rows32: table.gather(ids32), rows64: table.gather(ids64) };
    },
    inputs: {
      table: HostTensor.float32([4, 2], [0, 1, 10, 11, 20, 21, 30, 31]),
      ids32: HostTensor.int32([3], [3, 0, -1]), // negative counts from the end, as in ONNX
      ids64: HostTensor.int64([2, 2], [1, 2, 2, 0]),
    },
    expected: {
      rows32: { shape: [3, 2], values: [30, 31, 0, 1, 30, 31] },
      rows64: { shape: [2, 2, 2], values: [10, 11, 20, 21, 20, 21, 0, 1] },
    },
  },
  {
    name: "takeAlong and scatterAlong (entries along the last axis; repeated indices add up)",
    build: (b) => {
      const data = b.input("data", "float32", [2, 4]);
      const ids = b.input("ids", "int64", [2, 3]);
      const updates = b.input("updates", "float32", [2, 3]);
      return { taken: data.takeAlong(ids), scattered: b.scatterAlong(ids, updates, 4) };
    },
    inputs: {
      data: HostTensor.float32([2, 4], [0, 1, 2, 3, 10, 11, 12, 13]),
      ids: HostTensor.int64([2, 3], [3, 0, 3, -1, 1, 2]),
      updates: HostTensor.float32([2, 3], [1, 2, 4, 8, 16, 32]),
    },
    expected: {
      taken: { shape: [2, 3], values: [3, 0, 3, 13, 11, 12] },
      scattered: { shape: [2, 4], values: [2, 0, 0, 5, 0, 16, 32, 8] },
    },
  },
  {
    name: "scatterAdd (repeated indices add up)",
    build: (b) => {
      const ids32 = b.input("ids32", "int32", [3]);
      const updates = b.input("updates", "float32", [3, 2]);
      const ids64 = b.input("ids64", "int64", [2, 2]);
      const grid = b.input("grid", "float32", [2, 2, 1]);
      return { rows: b.scatterAdd(ids32, updates, 4), cells: b.scatterAdd(ids64, grid, 3) };
    },
    inputs: {
      ids32: HostTensor.int32([3], [1, -1, 1]),
      updates: HostTensor.float32([3, 2], [1, 2, 3, 4, 5, 6]),
      ids64: HostTensor.int64([2, 2], [0, 2, 2, 2]),
      grid: HostTensor.float32([2, 2, 1], [1, 10, 100, 1000]),
    },
    expected: {
      rows: { shape: [4, 2], values: [0, 0, 6, 8, 0, 0, 3, 4] },
      cells: { shape: [3, 1], values: [1, 0, 1110] },
    },
  },
  {
    name: "layout: reshape, transpose, slice, concat, broadcastTo",
    build: (b) => {
      const a = b.input("a", "float32", [2, 3]);
      const row = b.input("row", "float32", [1, 3]);
      return {
        reshaped: a.reshape([3, -1]),
        transposed: a.transpose([1, 0]),
        sliced: a.slice(1, 1, 3),
        concatenated: b.concat([a, row], 0),
        broadcast: row.broadcastTo([2, 2, 3]),
      };
    },
    inputs: { a: HostTensor.float32([2, 3], A), row: HostTensor.float32([1, 3], [7, 8, 9]) },
    expected: {
      reshaped: { shape: [3, 2], values: A },
      transposed: { shape: [3, 2], values: [1, 0.5, -2, 4, 3, -6] },
      sliced: { shape: [2, 2], values: [-2, 3, 4, -6] },
      concatenated: { shape: [3, 3], values: [...A, 7, 8, 9] },
      broadcast: { shape: [2, 2, 3], values: [7, 8, 9, 7, 8, 9, 7, 8, 9, 7, 8, 9] },
    },
  },
];

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

function buildCase(testCase: Case): Graph {
  const b = new GraphBuilder();
  return b.build(testCase.build(b));
}

/** Op names covered by a set of graphs: "matmul", "unary.rsqrt", "reduce.max", ... */
function coveredOps(graphs: readonly Graph[]): Set<string> {
  const covered = new Set<string>();
  for (const graph of graphs) {
    for (const { op } of graph.nodes) {
      covered.add(op.kind);
      if ("op" in op) covered.add(`${op.kind}.${op.op}`);
    }
  }
  return covered;
}

describe("OnnxBackend op by op", () => {
  it("the table covers every IR op kind (input and constant included)", () => {
    const covered = coveredOps(CASES.map(buildCase));
    const wanted = [
      ...Object.keys(ALL_KINDS),
      ...Object.keys(ALL_UNARY).map((op) => `unary.${op}`),
      ...Object.keys(ALL_BINARY).map((op) => `binary.${op}`),
      ...Object.keys(ALL_COMPARE).map((op) => `compare.${op}`),
      ...Object.keys(ALL_REDUCE).map((op) => `reduce.${op}`),
    ];
    expect(wanted.filter((op) => !covered.has(op))).toEqual([]);
  });

  // ReduceMax changes form at opset 18 (axes from attribute to input); 21 is the newest we emit.
  for (const opset of [17, 18, 21]) {
    describe(`opset ${opset}`, () => {
      const backend = new OnnxBackend({ opset, intraOpThreads: 1 });
      for (const testCase of CASES) {
        it(testCase.name, async () => {
          const graph = buildCase(testCase);
          const executable = await backend.compile(graph);
          const outputs = await executable.run(testCase.inputs);
          expect(Object.keys(outputs).sort()).toEqual(Object.keys(testCase.expected).sort());
          for (const [name, { shape, values }] of Object.entries(testCase.expected)) {
            const output = outputs[name]!;
            expect(output.dtype, name).toBe(graph.nodes[graph.outputs.get(name)!]!.dtype);
            expect([...output.shape], name).toEqual(shape);
            expectClose(output, values, `${testCase.name}: ${name}`);
          }
          const reference = await (await new ReferenceBackend().compile(graph)).run(testCase.inputs);
          for (const name of Object.keys(testCase.expected)) expectSameTensor(outputs[name]!, reference[name]!, `${testCase.name}: ${name} vs reference`);
          await executable.dispose();
        });
      }
    });
  }

  it("runs graphs whose constants are Constant nodes rather than initializers", async () => {
    const testCase = CASES.find((c) => c.name.startsWith("matmul, plain"))!;
    const bytes = graphToOnnx(buildCase(testCase), { constantsAsInitializers: false });
    expect(decodeGraph(bytes).initializer).toHaveLength(0);
    const session = await InferenceSession.create(bytes);
    const feeds = Object.fromEntries(Object.entries(testCase.inputs).map(([name, t]) => [name, new Tensor("float32", t.data as Float32Array, [...t.shape])]));
    const outputs = await session.run(feeds);
    expectClose(new HostTensor("float32", outputs["plain"]!.dims, outputs["plain"]!.data as Float32Array), testCase.expected["plain"]!.values, "plain");
    await session.release();
  });

  it("returns an input or a constant as an output, and one value under two names", async () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [2]);
    const y = x.mul(3);
    const graph = b.build({ x, y, alsoY: y, k: b.constant(HostTensor.float32([2], [5, 6])) });
    const out = await (await new OnnxBackend().compile(graph)).run({ x: HostTensor.float32([2], [1, 2]) });
    expectClose(out["x"]!, [1, 2], "x");
    expectClose(out["y"]!, [3, 6], "y");
    expectClose(out["alsoY"]!, [3, 6], "alsoY");
    expectClose(out["k"]!, [5, 6], "k");
  });

  it("runs an update graph whose output has an input's name (w in, new w out)", async () => {
    const b = new GraphBuilder();
    const w = b.input("w", "float32", [2]);
    const grad = b.input("grad", "float32", [2]);
    const graph = b.build({ w: w.sub(grad.mul(0.5)) });
    // ONNX forbids the clash, so graphToOnnx refuses it; the backend renames the output inside.
    expect(() => graphToOnnx(graph)).toThrow(InvalidArgumentError);
    const out = await (await new OnnxBackend().compile(graph)).run({ w: HostTensor.float32([2], [1, 2]), grad: HostTensor.float32([2], [2, 2]) });
    expect(Object.keys(out)).toEqual(["w"]);
    expectClose(out["w"]!, [0, 1], "w");
  });
});

describe("OnnxBackend on a fused graph", () => {
  it("agrees on a matmul chain with softmax and reductions", async () => {
    const random = new Random(7);
    const draw = (n: number, scale: number): number[] => Array.from({ length: n }, () => random.normal() * scale);
    const [m, d, h] = [6, 16, 32];
    const xs = draw(m * d, 1);
    const w1 = draw(d * h, 0.25);
    const w2 = draw(h * d, 0.25);

    const b = new GraphBuilder();
    const x = b.input("x", "float32", [m, d]);
    const hidden = x.matmul(b.constant(HostTensor.float32([d, h], w1))).tanh();
    const scores = hidden.matmul(b.constant(HostTensor.float32([h, d], w2)));
    const probabilities = scores.softmax(-1);
    const graph = b.build({ probabilities, rowMax: scores.max(-1), total: probabilities.mul(scores).sum([0, 1]) });

    const expectedScores = matmul(map(matmul(xs, w1, m, d, h), Math.tanh), w2, m, h, d);
    const expectedProbabilities = softmaxRows(expectedScores, m, d);
    const rowMax = Array.from({ length: m }, (_, r) => Math.max(...expectedScores.slice(r * d, (r + 1) * d)));
    const total = expectedProbabilities.reduce((s, p, i) => s + p * expectedScores[i]!, 0);

    const inputs = { x: HostTensor.float32([m, d], xs) };
    const out = await (await new OnnxBackend({ intraOpThreads: 2 }).compile(graph)).run(inputs);
    expectClose(out["probabilities"]!, expectedProbabilities, "probabilities");
    expectClose(out["rowMax"]!, rowMax, "rowMax");
    expectClose(out["total"]!, [total], "total");
    const reference = await (await new ReferenceBackend().compile(graph)).run(inputs);
    for (const name of ["probabilities", "rowMax", "total"]) expectSameTensor(out[name]!, reference[name]!, `${name} vs reference`);
  });
});

describe("OnnxBackend sessions and bytes", () => {
  const trace = (scale: number): Graph => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [2, 2]);
    return b.build({ y: x.mul(scale).matmul(b.constant(HostTensor.float32([2, 2], [1, 0, 0, 1]))) });
  };

  it("compiles a graph once and shares the session", async () => {
    const backend = new OnnxBackend();
    const graph = trace(2);
    const first = await backend.compile(graph);
    const second = await backend.compile(graph);
    expect(second.session).toBe(first.session);
    // A retrace of the same function finds it too: small constants are keyed by value...
    const retraced = await backend.compile(trace(2));
    expect(retraced.session).toBe(first.session);
    // ...so a different scalar, which describeGraph does not show, is a different session.
    const other = await backend.compile(trace(3));
    expect(other.session).not.toBe(first.session);
    expect(backend.cachedSessions).toBe(2);
    const input = { x: HostTensor.float32([2, 2], [1, 2, 3, 4]) };
    expectClose((await other.run(input))["y"]!, [3, 6, 9, 12], "y");

    await first.dispose();
    await second.dispose();
    expectClose((await retraced.run(input))["y"]!, [2, 4, 6, 8], "y after other executables were disposed");
    await retraced.dispose();
    expect(backend.cachedSessions).toBe(1);
    await expect(first.run(input)).rejects.toBeInstanceOf(InvalidArgumentError);
    await backend.dispose();
    expect(backend.cachedSessions).toBe(0);
    await expect(other.run(input)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("shares one session between concurrent compiles of one graph", async () => {
    const backend = new OnnxBackend();
    const [a, b] = await Promise.all([backend.compile(trace(2)), backend.compile(trace(2))]);
    expect(a.session).toBe(b.session);
    await backend.dispose();
  });

  it("emits the same bytes for the same graph, with stable unique names and initializers", () => {
    const bytes = graphToOnnx(trace(2));
    expect(graphToOnnx(trace(2))).toEqual(bytes);
    expect(graphToOnnx(trace(3))).not.toEqual(bytes);
    const model = onnxProto.onnx.ModelProto.decode(bytes);
    expect(Number(model.irVersion)).toBe(8);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([["", 17]]);
    const graph = decodeGraph(bytes);
    expect(graph.input.map((v) => v.name)).toEqual(["x"]);
    expect(graph.output.map((v) => v.name)).toEqual(["y"]);
    expect(graph.initializer.map((t) => t.name)).toEqual(["%1", "%3"]);
    const names = graph.node.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
    expect(graph.node.map((n) => `${n.name}: ${n.opType}(${n.input.join(", ")}) -> ${n.output.join(", ")}`)).toEqual([
      "n2: Mul(x, %1) -> %2",
      "n4: MatMul(%2, %3) -> y",
    ]);
  });

  it("leaves out nodes no output depends on", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [2]);
    x.exp(); // dead
    expect(decodeGraph(graphToOnnx(b.build({ y: x.neg() }))).node.map((n) => n.opType)).toEqual(["Neg"]);
  });
});

describe("OnnxBackend errors", () => {
  const b = new GraphBuilder();
  const x = b.input("x", "float32", [2, 3]);
  const ids = b.input("ids", "int64", [2]);
  const graph = b.build({ y: x.gather(ids).sum() });
  const good = { x: HostTensor.float32([2, 3], A), ids: HostTensor.int64([2], [1, 0]) };

  it("rejects missing, misshapen, mistyped and unknown inputs, naming them", async () => {
    const executable = await new OnnxBackend().compile(graph);
    expectClose((await executable.run(good))["y"]!, [0.5], "y");
    const cases: [Record<string, HostTensor>, RegExp][] = [
      [{ x: good.x }, /'ids'.*missing/],
      [{ ...good, x: HostTensor.float32([3, 2], A) }, /'x'.*shape \[2, 3\]/],
      [{ ...good, ids: HostTensor.int32([2], [1, 0]) }, /'ids'.*int64, got int32/],
      [{ ...good, idz: good.ids }, /'idz'.*not an input/],
    ];
    for (const [inputs, message] of cases) {
      const failure = executable.run(inputs);
      await expect(failure).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(failure).rejects.toThrow(message);
    }
  });

  it("turns onnxruntime's run-time failures (an id out of range) into typed errors", async () => {
    const executable = await new OnnxBackend().compile(graph);
    const failure = executable.run({ ...good, ids: HostTensor.int64([2], [0, 5]) });
    await expect(failure).rejects.toBeInstanceOf(BackendError);
    await expect(failure).rejects.toThrow(/out of data bounds/);
  });

  it("reads inputs that are views into a larger buffer", async () => {
    const backing = new Float32Array([99, 99, ...A, 99]);
    const x = new HostTensor("float32", [2, 3], backing.subarray(2, 8));
    const executable = await new OnnxBackend().compile(graph);
    expectClose((await executable.run({ ...good, x }))["y"]!, [0.5], "y");
  });

  it("rejects graphs it cannot compile with typed errors", async () => {
    const backend = new OnnxBackend();
    const half = new GraphBuilder();
    const h = half.input("h", "float32", [2]);
    await expect(backend.compile(half.build({ out: h.cast("bfloat16") }))).rejects.toBeInstanceOf(UnsupportedDTypeError);
    expect(() => graphToOnnx(graph, { opset: 12 })).toThrow(InvalidArgumentError);
    expect(() => graphToOnnx({ ...graph, outputs: new Map() })).toThrow(InvalidArgumentError);
    expect(() => graphToOnnx({ ...graph, outputs: new Map([["%y", 0]]) })).toThrow(InvalidArgumentError);
    expect(() => graphToOnnx({ ...graph, outputs: new Map([["x", 1]]) })).toThrow(/both an input and a different output/);
  });

  it("keeps bfloat16 inside a graph: constants cast to float32 run", async () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [3]);
    const weight = HostTensor.float32([3], [1.5, -2, 0.25]).toHalf("bfloat16");
    const graph = b.build({ y: x.mul(b.constant(weight).cast("float32")) });
    expectClose((await (await new OnnxBackend().compile(graph)).run({ x: HostTensor.float32([3], [2, 2, 2]) }))["y"]!, [3, -4, 0.5], "y");
  });
});
