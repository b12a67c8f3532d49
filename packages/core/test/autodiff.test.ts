// Reverse-mode autodiff checked against central finite differences, both in float64 on the
// reference backend: a table with a small random graph per op (shapes chosen to broadcast) whose
// coverage of every op kind and op name is itself asserted, a composite MLP with GELU-tanh, RMSNorm
// and a logSumExp cross-entropy, and the structure and errors of `gradients`.
import { describe, expect, it } from "vitest";
import { GRADIENT_RULES } from "../src/autodiff/gradients.js";
import { sliceShape } from "../src/graph/shapes.js";
import {
  describeGraph,
  gradients,
  GraphBuilder,
  HostTensor,
  InvalidArgumentError,
  Random,
  ReferenceBackend,
  runFloat64,
  type BinaryOpName,
  type CompareOpName,
  type Float64Tensor,
  type Graph,
  type OpKind,
  type ReduceOpName,
  type Shape,
  type SymbolicTensor,
  type UnaryOpName,
  quantizeMatrix,
} from "../src/index.js";

// Every op kind with a gradient rule, and every op name, listed here so the table below can be
// checked against them; the type assertions fail typecheck if ops.ts grows an op not listed.
const KINDS = ["range", "unary", "binary", "compare", "where", "cast", "matmul", "matmulNBits", "reduce", "softmax", "gather", "scatterAdd", "takeAlong", "scatterAlong", "reshape", "transpose", "slice", "concat", "broadcastTo"] as const;
const UNARY = ["neg", "exp", "log", "tanh", "erf", "sqrt", "rsqrt", "abs", "cos", "sin"] as const;
const BINARY = ["add", "sub", "mul", "div", "pow", "max", "min"] as const;
const COMPARE = ["less", "lessOrEqual", "greater", "greaterOrEqual", "equal"] as const;
const REDUCE = ["sum", "max"] as const;
type Exhaustive<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : never;
const listsAreExhaustive: [
  Exhaustive<Exclude<OpKind, "input" | "constant">, (typeof KINDS)[number]>,
  Exhaustive<UnaryOpName, (typeof UNARY)[number]>,
  Exhaustive<BinaryOpName, (typeof BINARY)[number]>,
  Exhaustive<CompareOpName, (typeof COMPARE)[number]>,
  Exhaustive<ReduceOpName, (typeof REDUCE)[number]>,
] = [true, true, true, true, true];

const EPS = 1e-6;
const TOLERANCE = 1e-5;

type Inputs = Record<string, Float64Tensor>;
type InputSpec = { shape: Shape; draw?: "normal" | "positive" };

interface Case {
  name: string;
  inputs: Record<string, InputSpec>;
  build: (b: GraphBuilder, x: Record<string, SymbolicTensor>) => SymbolicTensor;
}

const randomTensor = (random: Random, spec: InputSpec): Float64Tensor => {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  // "positive": in [0.5, 2], away from the poles and branch points of log, sqrt, rsqrt, pow, div.
  const draw = spec.draw === "positive" ? () => 0.5 + 1.5 * random.uniform() : () => random.normal();
  return { shape: spec.shape, data: Float64Array.from({ length: size }, draw) };
};

const ints = (shape: Shape, values: number[]) => HostTensor.int32(shape, values);

const CASES: Case[] = [
  ...(["neg", "exp", "tanh", "erf", "abs", "cos", "sin"] as const).map(
    (op): Case => ({ name: `unary ${op}`, inputs: { x: { shape: [2, 3] } }, build: (_b, { x }) => x![op]() }),
  ),
  ...(["log", "sqrt", "rsqrt"] as const).map(
    (op): Case => ({ name: `unary ${op}`, inputs: { x: { shape: [2, 3], draw: "positive" } }, build: (_b, { x }) => x![op]() }),
  ),
  {
    // RoPE's angles: cos and sin of the same values, over several periods.
    name: "unary cos and sin of angles in [-6, 6], multiplied",
    inputs: { x: { shape: [2, 5] } },
    build: (_b, { x }) => x!.mul(3).cos().mul(x!.mul(3).sin()),
  },
  {
    name: "range (an int64 constant: no gradient of its own) scaling x",
    inputs: { x: { shape: [2, 3] } },
    build: (b, { x }) => x!.mul(b.range(1, 4).cast("float32")).sin(),
  },
  { name: "binary add [2,3] + [3]", inputs: { a: { shape: [2, 3] }, b: { shape: [3] } }, build: (_b, { a, b }) => a!.add(b!) },
  { name: "binary sub [2,1,3] - [4,1]", inputs: { a: { shape: [2, 1, 3] }, b: { shape: [4, 1] } }, build: (_b, { a, b }) => a!.sub(b!) },
  { name: "binary mul [3] * [2,3]", inputs: { a: { shape: [3] }, b: { shape: [2, 3] } }, build: (_b, { a, b }) => a!.mul(b!) },
  {
    name: "binary div [2,3] / [2,1]",
    inputs: { a: { shape: [2, 3] }, b: { shape: [2, 1], draw: "positive" } },
    build: (_b, { a, b }) => a!.div(b!),
  },
  {
    name: "binary pow [2,3] ^ [3] (float exponent)",
    inputs: { a: { shape: [2, 3], draw: "positive" }, b: { shape: [3] } },
    build: (_b, { a, b }) => a!.pow(b!),
  },
  { name: "binary max [2,3] vs [3]", inputs: { a: { shape: [2, 3] }, b: { shape: [3] } }, build: (_b, { a, b }) => a!.maximum(b!) },
  { name: "binary min [2,1] vs [2,3]", inputs: { a: { shape: [2, 1] }, b: { shape: [2, 3] } }, build: (_b, { a, b }) => a!.minimum(b!) },
  ...COMPARE.map(
    (op): Case => ({
      // The compare has no gradient; the where it drives routes x * y or z by it.
      name: `compare ${op} into where [2,3], [3], [2,1]`,
      inputs: { x: { shape: [2, 3] }, y: { shape: [3] }, z: { shape: [2, 1] } },
      // equal(x, |x|) is true exactly where x >= 0, so both branches are taken; x == y never is.
      build: (b, { x, y, z }) => b.where(op === "equal" ? x!.equal(x!.abs()) : x![op](y!), x!.mul(y!), z!),
    }),
  ),
  {
    name: "cast float32 -> float16 -> float32, and through int32 (no gradient)",
    inputs: { x: { shape: [2, 3] } },
    build: (_b, { x }) => x!.cast("float16").mul(x!.cast("float16")).cast("float32").add(x!.mul(3).cast("int32").cast("float32").mul(x!)),
  },
  {
    name: "matmul with broadcast batch axes [2,1,3,4] x [3,4,2]",
    inputs: { a: { shape: [2, 1, 3, 4] }, b: { shape: [3, 4, 2] } },
    build: (_b, { a, b }) => a!.matmul(b!),
  },
  { name: "matmul rank 3 x rank 2 [2,3,4] x [4,5]", inputs: { a: { shape: [2, 3, 4] }, b: { shape: [4, 5] } }, build: (_b, { a, b }) => a!.matmul(b!) },
  {
    name: "matmulNBits, 4 and 8 bits [2,3,64] x quantized [5,64]",
    inputs: { x: { shape: [2, 3, 64] } },
    build: (b, { x }) => {
      const weight = HostTensor.float32([5, 64], Array.from({ length: 320 }, (_, i) => Math.sin(i * 1.7)));
      const q4 = quantizeMatrix(weight, 4);
      const q8 = quantizeMatrix(weight, 8);
      const four = b.matmulNBits(x!, b.constant(q4.blocks), b.constant(q4.scales), 4);
      return four.add(b.matmulNBits(x!, b.constant(q8.blocks), b.constant(q8.scales), 8).mul(0.5));
    },
  },
  { name: "reduce sum over [0,2]", inputs: { x: { shape: [2, 3, 4] } }, build: (_b, { x }) => x!.sum([0, 2]).tanh() },
  { name: "reduce sum keepDims, broadcast back", inputs: { x: { shape: [2, 3] } }, build: (_b, { x }) => x!.mul(x!.sum(1, true)) },
  { name: "reduce max over one axis", inputs: { x: { shape: [3, 4] } }, build: (_b, { x }) => x!.max(1) },
  { name: "reduce max over [0,2] keepDims", inputs: { x: { shape: [2, 3, 4] } }, build: (_b, { x }) => x!.sub(x!.max([0, 2], true)).exp() },
  { name: "softmax along the middle axis", inputs: { x: { shape: [2, 3, 4] } }, build: (_b, { x }) => x!.softmax(1) },
  { name: "softmax along the last axis", inputs: { x: { shape: [3, 5] } }, build: (_b, { x }) => x!.mul(2).softmax(-1) },
  {
    name: "gather with duplicate and negative indices",
    inputs: { table: { shape: [5, 3] } },
    build: (b, { table }) => table!.gather(b.constant(ints([2, 3], [1, 4, 1, -1, 0, 1]))).tanh(),
  },
  {
    name: "takeAlong with duplicate and negative indices",
    inputs: { logits: { shape: [2, 3, 5] } },
    build: (b, { logits }) => logits!.takeAlong(b.constant(ints([2, 3, 2], [0, 4, 1, 1, -1, 2, 3, 3, 0, 2, 4, -5]))).tanh(),
  },
  {
    name: "scatterAlong with duplicate indices",
    inputs: { updates: { shape: [2, 3] } },
    build: (b, { updates }) => b.scatterAlong(b.constant(ints([2, 3], [1, 1, 3, 0, 2, 0])), updates!, 4).tanh(),
  },
  {
    name: "scatterAdd with duplicate indices",
    inputs: { updates: { shape: [2, 2, 3] } },
    build: (b, { updates }) => b.scatterAdd(b.constant(ints([2, 2], [2, 0, 2, 2])), updates!, 4).tanh(),
  },
  { name: "reshape", inputs: { x: { shape: [2, 6] } }, build: (_b, { x }) => x!.reshape([3, 4]).softmax(0) },
  { name: "transpose", inputs: { x: { shape: [2, 3, 4] } }, build: (_b, { x }) => x!.transpose([2, 0, 1]).softmax(-1) },
  { name: "slice in the middle", inputs: { x: { shape: [4, 5] } }, build: (_b, { x }) => x!.slice(1, 1, 4).tanh() },
  { name: "slice at the start and the end", inputs: { x: { shape: [4, 5] } }, build: (b, { x }) => b.concat([x!.slice(0, 0, 2), x!.slice(0, 3, 4)], 0).exp() },
  {
    name: "slice on two axes at once",
    inputs: { x: { shape: [4, 3, 5] } },
    build: (b, { x }) => {
      const op = { kind: "slice", starts: [1, 0], ends: [3, 2], axes: [0, 2] } as const;
      return b.append(op, [x!.id], x!.dtype, sliceShape(x!.shape, op.starts, op.ends, op.axes)).tanh();
    },
  },
  {
    name: "concat, one part used twice",
    inputs: { a: { shape: [2, 3] }, b: { shape: [2, 1] } },
    build: (b, { a, b: c }) => b.concat([a!, c!, a!.tanh()], 1).softmax(-1),
  },
  { name: "broadcastTo", inputs: { x: { shape: [3, 1] } }, build: (_b, { x }) => x!.broadcastTo([2, 3, 4]).mul(x!.broadcastTo([2, 3, 4]).exp()) },
];

/**
 * loss = sum(output * weights), with fixed random weights so every output element matters
 * differently. Returns the graph and the op kinds / op names the case itself traced.
 */
function traceCase(testCase: Case, random: Random): { graph: Graph; covered: Set<string> } {
  const b = new GraphBuilder();
  const x = Object.fromEntries(Object.entries(testCase.inputs).map(([name, spec]) => [name, b.input(name, "float32", spec.shape)]));
  const y = testCase.build(b, x);
  const traced = b.build({ y }).nodes;
  const weights = HostTensor.float32(y.shape as number[], Array.from({ length: (y.shape as number[]).reduce((p, d) => p * d, 1) }, () => random.normal()));
  const loss = y.cast("float32").mul(b.constant(weights)).sum();
  const covered = new Set<string>();
  for (const node of traced) {
    const op = node.op;
    covered.add(op.kind);
    if ("op" in op) covered.add(`${op.kind}.${op.op}`);
  }
  return { graph: b.build({ y, loss }), covered };
}

/** The loss of `graph` in float64. */
const lossOf = (graph: Graph, inputs: Inputs): number => runFloat64(graph, inputs).loss!.data[0]!;

/** Worst relative error over the inputs: max |analytic - numeric| / max |numeric|, per input. */
function gradientError(graph: Graph, inputs: Inputs): { worst: number; errors: Record<string, number> } {
  const wrt = Object.keys(inputs);
  const analytic = runFloat64(gradients(graph, { loss: "loss", wrt }), inputs);
  const errors: Record<string, number> = {};
  for (const name of wrt) {
    const base = inputs[name]!;
    const numeric = new Float64Array(base.data.length);
    for (let i = 0; i < numeric.length; i++) {
      const shifted = (delta: number): Inputs => {
        const data = Float64Array.from(base.data);
        data[i]! += delta;
        return { ...inputs, [name]: { shape: base.shape, data } };
      };
      numeric[i] = (lossOf(graph, shifted(EPS)) - lossOf(graph, shifted(-EPS))) / (2 * EPS);
    }
    const grad = analytic[`grad.${name}`]!.data;
    let difference = 0;
    let scale = 0;
    numeric.forEach((n, i) => {
      difference = Math.max(difference, Math.abs(grad[i]! - n));
      scale = Math.max(scale, Math.abs(n));
    });
    expect(scale, `gradient of ${name} should not vanish`).toBeGreaterThan(1e-3);
    errors[name] = difference / scale;
  }
  return { worst: Math.max(...Object.values(errors)), errors };
}

describe("gradients against float64 finite differences", () => {
  CASES.forEach((testCase, index) => {
    it(testCase.name, () => {
      const random = new Random(1000 + index);
      const inputs = Object.fromEntries(Object.entries(testCase.inputs).map(([name, spec]) => [name, randomTensor(random, spec)]));
      const { graph } = traceCase(testCase, random);
      const { worst, errors } = gradientError(graph, inputs);
      expect(worst, JSON.stringify(errors)).toBeLessThan(TOLERANCE);
    });
  });

  it("the table covers every op kind and every op name", () => {
    const covered = new Set<string>();
    for (const testCase of CASES) for (const name of traceCase(testCase, new Random(0)).covered) covered.add(name);
    expect(listsAreExhaustive).toEqual([true, true, true, true, true]);
    expect(Object.keys(GRADIENT_RULES).sort()).toEqual([...KINDS].sort());
    const expected = [
      ...KINDS,
      ...UNARY.map((op) => `unary.${op}`),
      ...BINARY.map((op) => `binary.${op}`),
      ...COMPARE.map((op) => `compare.${op}`),
      ...REDUCE.map((op) => `reduce.${op}`),
    ];
    expect(expected.filter((name) => !covered.has(name))).toEqual([]);
  });

  it("differentiates a tiny MLP with RMSNorm, GELU-tanh and a logSumExp cross-entropy", () => {
    const [B, D, H, C] = [4, 6, 8, 5];
    const labels = [1, 4, 0, 4];
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [B, D]);
    const w1 = b.input("w1", "float32", [H, D]);
    const b1 = b.input("b1", "float32", [H]);
    const scale = b.input("scale", "float32", [H]);
    const w2 = b.input("w2", "float32", [C, H]);
    const linear = (t: SymbolicTensor, w: SymbolicTensor) => t.matmul(w.transpose([1, 0]));
    // Gemma's RMSNorm: x / sqrt(mean(x^2) + eps) * (1 + w).
    const rmsNorm = (t: SymbolicTensor, w: SymbolicTensor) => t.mul(t.mul(t).mean(-1, true).add(1e-6).rsqrt()).mul(w.add(1));
    // GELU, tanh approximation: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    const gelu = (t: SymbolicTensor) => t.mul(0.5).mul(t.add(t.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI)).tanh().add(1));
    const logits = linear(gelu(rmsNorm(linear(x, w1).add(b1), scale)), w2); // [B, C]
    // The label's logit, read from the flattened logits by gather (row b, column labels[b]).
    const picked = logits.reshape([B * C]).gather(b.constant(ints([B], labels.map((label, row) => row * C + label))));
    const loss = logits.logSumExp(-1).sub(picked).mean();
    const graph = b.build({ loss });

    const random = new Random(7);
    const inputs: Inputs = {
      x: randomTensor(random, { shape: [B, D] }),
      w1: randomTensor(random, { shape: [H, D] }),
      b1: randomTensor(random, { shape: [H] }),
      scale: randomTensor(random, { shape: [H] }),
      w2: randomTensor(random, { shape: [C, H] }),
    };
    const { worst, errors } = gradientError(graph, inputs);
    expect(worst, JSON.stringify(errors)).toBeLessThan(TOLERANCE);
  });
});

describe("gradients: the derived graph", () => {
  const trace = () => {
    const b = new GraphBuilder();
    const table = b.input("table", "float32", [4, 2]);
    const x = b.input("x", "float32", [2]);
    const unused = b.input("unused", "float32", [3]);
    const ids = b.input("ids", "int32", [2]);
    const rows = table.gather(ids); // [2, 2]
    const y = rows.matmul(x.reshape([2, 1])).reshape([2]);
    return { graph: b.build({ y, loss: y.mul(y).sum(), extra: unused.exp() }), b };
  };

  it("keeps the original outputs and adds grad.<name> for each wrt input", async () => {
    const { graph } = trace();
    const derived = gradients(graph, { loss: "loss", wrt: ["x", "unused"] });
    expect([...derived.outputs.keys()]).toEqual(["y", "loss", "extra", "grad.x", "grad.unused"]);
    expect([...derived.inputs.keys()]).toEqual(["table", "x", "unused", "ids"]);
    // The forward is replayed unchanged at the front of the derived graph.
    expect(describeGraph(derived).split("\n").slice(0, graph.nodes.length)).toEqual(describeGraph(graph).split("\n").slice(0, -1));
    // table is not differentiated, so no scatterAdd is built for the gather.
    expect(derived.nodes.some((node) => node.op.kind === "scatterAdd")).toBe(false);

    const executable = await new ReferenceBackend().compile(derived);
    const out = await executable.run({
      table: HostTensor.float32([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
      x: HostTensor.float32([2], [1, -1]),
      unused: HostTensor.float32([3], [0, 0, 0]),
      ids: HostTensor.int32([2], [3, 0]),
    });
    // rows = [[7, 8], [1, 2]], y = [-1, -1], loss = sum(y^2), dloss/dx = rows^T 2y = [-16, -20].
    expect(out["grad.x"]!.data).toEqual(Float32Array.from([-16, -20]));
    expect(out["grad.unused"]!.shape).toEqual([3]);
    expect(out["grad.unused"]!.data).toEqual(Float32Array.from([0, 0, 0]));
    expect(out.loss!.data).toEqual(Float32Array.from([2]));
  });

  it("splits the gradient of a max evenly between tied positions", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [4]);
    const y = b.input("y", "float32", [4]);
    const graph = b.build({ loss: x.max().add(x.maximum(y).sum()).add(x.minimum(y).mul(3).sum()) });
    const derived = gradients(graph, { loss: "loss", wrt: ["x", "y"] });
    const out = runFloat64(derived, { x: { shape: [4], data: Float64Array.of(1, 3, 3, 0) }, y: { shape: [4], data: Float64Array.of(1, 0, 5, 2) } });
    // max(x): ties at 3 share 1. maximum: tie at index 0 splits 1/2, else the larger. minimum * 3 likewise.
    expect(Array.from(out["grad.x"]!.data)).toEqual([0 + 0.5 + 1.5, 0.5 + 1 + 0, 0.5 + 0 + 3, 0 + 0 + 3]);
    expect(Array.from(out["grad.y"]!.data)).toEqual([0.5 + 1.5, 0 + 3, 1 + 0, 1 + 0]);
  });

  it("keeps pow's gradient finite at x^0 and 0^b", () => {
    const b = new GraphBuilder();
    const a = b.input("a", "float32", [2]);
    const e = b.input("e", "float32", [2]);
    const graph = b.build({ loss: a.pow(e).sum() });
    const out = runFloat64(gradients(graph, { loss: "loss", wrt: ["a", "e"] }), {
      a: { shape: [2], data: Float64Array.of(0, 2) },
      e: { shape: [2], data: Float64Array.of(0, 3) },
    });
    expect(Array.from(out["grad.a"]!.data)).toEqual([0, 12]);
    expect(Array.from(out["grad.e"]!.data)).toEqual([0, 8 * Math.log(2)]);
  });

  it("rejects a loss that is not a float scalar and wrt that are not float inputs", () => {
    const { graph } = trace();
    expect(() => gradients(graph, { loss: "y", wrt: ["x"] })).toThrow(InvalidArgumentError);
    expect(() => gradients(graph, { loss: "y", wrt: ["x"] })).toThrow(/'y' must be a float scalar \(rank 0 or size 1\), got float32\[2\]/);
    expect(() => gradients(graph, { loss: "nope", wrt: ["x"] })).toThrow(/'nope' is not an output/);
    expect(() => gradients(graph, { loss: "loss", wrt: ["ids"] })).toThrow(/'ids' is int32; gradients need a float input/);
    expect(() => gradients(graph, { loss: "loss", wrt: ["y"] })).toThrow(/'y' is not an input/);
    expect(() => gradients(graph, { loss: "loss", wrt: ["x", "x"] })).toThrow(/listed twice/);
  });

  it("accepts a size-1 loss of any rank", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [3]);
    const graph = b.build({ loss: x.mul(x).sum(0, true).reshape([1, 1]) });
    const out = runFloat64(gradients(graph, { loss: "loss", wrt: ["x"] }), { x: { shape: [3], data: Float64Array.of(1, 2, 3) } });
    expect(Array.from(out["grad.x"]!.data)).toEqual([2, 4, 6]);
  });
});
