// The reference backend against small hand-computed cases, op family by op family (numpy
// broadcasting, batched matmul, reductions, indexing), the ONNX edge semantics it promises (erf,
// pow, cast truncation, negative gather indices) and its typed errors for bad inputs.
import { describe, expect, it } from "vitest";
import {
  GraphBuilder,
  HostTensor,
  InvalidArgumentError,
  ReferenceBackend,
  runFloat64,
  ShapeMismatchError,
  type Graph,
  type SymbolicTensor,
} from "../src/index.js";

type Build = (b: GraphBuilder) => Record<string, SymbolicTensor>;

async function run(build: Build, inputs: Record<string, HostTensor> = {}): Promise<Record<string, HostTensor>> {
  const b = new GraphBuilder();
  const graph = b.build(build(b));
  const executable = await new ReferenceBackend().compile(graph);
  return executable.run(inputs);
}

/** The single output `y` of a graph that takes no inputs. */
async function value(build: (b: GraphBuilder) => SymbolicTensor): Promise<HostTensor> {
  return (await run((b) => ({ y: build(b) }))).y!;
}

const f32 = (shape: number[], values: number[]) => HostTensor.float32(shape, values);
const values = (tensor: HostTensor) => Array.from(tensor.data as ArrayLike<number>);

describe("reference backend: elementwise", () => {
  it("broadcasts binary ops numpy-style", async () => {
    const y = await value((b) => b.constant(f32([2, 1], [1, 2])).add(b.constant(f32([3], [10, 20, 30]))));
    expect(y.shape).toEqual([2, 3]);
    expect(values(y)).toEqual([11, 21, 31, 12, 22, 32]);
    const z = await value((b) => b.constant(f32([2, 1, 2], [1, 2, 3, 4])).mul(b.constant(f32([3, 1], [1, 10, 100]))));
    expect(z.shape).toEqual([2, 3, 2]);
    expect(values(z)).toEqual([1, 2, 10, 20, 100, 200, 3, 4, 30, 40, 300, 400]);
  });

  it("computes each binary op", async () => {
    const a = f32([4], [4, 9, -2, 0.5]);
    const bb = f32([4], [0.5, 2, 3, -1]);
    const binary = async (op: "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum") =>
      values(await value((b) => b.constant(a)[op](b.constant(bb))));
    expect(await binary("add")).toEqual([4.5, 11, 1, -0.5]);
    expect(await binary("sub")).toEqual([3.5, 7, -5, 1.5]);
    expect(await binary("mul")).toEqual([2, 18, -6, -0.5]);
    expect(await binary("div")).toEqual([8, 4.5, -2 / 3, -0.5].map(Math.fround));
    expect(await binary("pow")).toEqual([2, 81, -8, 2]); // float exponent: 4^0.5 = 2
    expect(await binary("maximum")).toEqual([4, 9, 3, 0.5]);
    expect(await binary("minimum")).toEqual([0.5, 2, -2, -1]);
  });

  it("follows C's pow where Math.pow differs, and propagates NaN through max", async () => {
    const pow = await value((b) => b.constant(f32([3], [1, -1, -8])).pow(b.constant(f32([3], [Number.NaN, Number.POSITIVE_INFINITY, 1 / 3]))));
    expect(values(pow).slice(0, 2)).toEqual([1, 1]);
    expect(Number.isNaN(values(pow)[2])).toBe(true); // negative base, fractional exponent
    const max = await value((b) => b.constant(f32([2], [Number.NaN, 1])).maximum(0));
    expect(Number.isNaN(values(max)[0])).toBe(true);
  });

  it("computes each unary op", async () => {
    const unary = async (op: "neg" | "exp" | "log" | "tanh" | "erf" | "sqrt" | "rsqrt" | "abs", xs: number[]) =>
      values(await value((b) => b.constant(f32([xs.length], xs))[op]()));
    expect(await unary("neg", [1, -2])).toEqual([-1, 2]);
    expect(await unary("exp", [0, 1])).toEqual([1, Math.fround(Math.E)]);
    expect(await unary("log", [1, 8])).toEqual([0, Math.fround(Math.log(8))]);
    expect(await unary("tanh", [0, 1])).toEqual([0, Math.fround(Math.tanh(1))]);
    expect(await unary("sqrt", [4, 2])).toEqual([2, Math.fround(Math.SQRT2)]);
    expect(await unary("rsqrt", [4, 0.25])).toEqual([0.5, 2]);
    expect(await unary("abs", [-3, 2])).toEqual([3, 2]);
    // erf of float32 inputs, against mpmath at 200 bits, rounded to float32.
    expect(await unary("erf", [0, 0.5, -1, 2, 4])).toEqual([0, 0.5204998778130465, -0.8427007929497149, 0.9953222650189527, 0.9999999845827421].map(Math.fround));
  });

  it("evaluates erf to float64 precision in float64 mode", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [6]);
    const graph = b.build({ y: x.erf() });
    const xs = [0.1, 0.5, 1, 1.5, 2.5, 3.5];
    // mpmath.erf at 200 bits, rounded to float64.
    const expected = [0.1124629160182849, 0.5204998778130465, 0.8427007929497149, 0.9661051464753108, 0.9995930479825550, 0.9999992569016276];
    const y = runFloat64(graph, { x: { shape: [6], data: Float64Array.from(xs) } }).y!;
    y.data.forEach((v, i) => expect(Math.abs(v - expected[i]!) / expected[i]!).toBeLessThan(5e-16));
  });

  it("compares into bool and selects with where, broadcasting all three", async () => {
    const out = await run((b) => {
      const x = b.constant(f32([3], [1, 2, 3]));
      const condition = x.greater(b.constant(f32([2, 1], [1.5, 2.5])));
      return {
        greater: condition,
        less: x.less(2),
        lessOrEqual: x.lessOrEqual(2),
        greaterOrEqual: x.greaterOrEqual(2),
        equal: x.equal(2),
        where: b.where(condition, x, b.scalar(-1)),
      };
    });
    expect(out.greater!.dtype).toBe("bool");
    expect(out.greater!.data).toEqual(Uint8Array.from([0, 1, 1, 0, 0, 1]));
    expect(values(out.less!)).toEqual([1, 0, 0]);
    expect(values(out.lessOrEqual!)).toEqual([1, 1, 0]);
    expect(values(out.greaterOrEqual!)).toEqual([0, 1, 1]);
    expect(values(out.equal!)).toEqual([0, 1, 0]);
    expect(out.where!.shape).toEqual([2, 3]);
    expect(values(out.where!)).toEqual([-1, 2, 3, -1, -1, 3]);
  });

  it("casts like ONNX Cast: float to int truncates toward zero, anything non-zero is true", async () => {
    const out = await run((b) => {
      const x = b.constant(f32([5], [-1.7, 1.7, 2.5, -0.5, 0]));
      return { i32: x.cast("int32"), i64: x.cast("int64"), bool: x.cast("bool"), back: x.cast("int32").cast("float32"), half: x.cast("float16") };
    });
    expect(out.i32!.data).toEqual(Int32Array.from([-1, 1, 2, 0, 0]));
    expect(out.i64!.data).toEqual(BigInt64Array.from([-1n, 1n, 2n, 0n, 0n]));
    expect(out.bool!.data).toEqual(Uint8Array.from([1, 1, 1, 1, 0]));
    expect(values(out.back!)).toEqual([-1, 1, 2, 0, 0]);
    expect(out.half!.toFloat32().data).toEqual(Float32Array.from([-1.7001953125, 1.7001953125, 2.5, -0.5, 0]));
    const fromInt = await value((b) => b.constant(HostTensor.int64([2], [3, -4])).cast("float32"));
    expect(fromInt.data).toEqual(Float32Array.from([3, -4]));
  });

  it("rounds every float32 op, and keeps float64 in runFloat64", async () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [1]);
    const graph = b.build({ y: x.add(b.constant(f32([1], [1e-8]))).sub(x) });
    const executable = await new ReferenceBackend().compile(graph);
    // 1 + 1e-8 rounds to 1 in float32, as a float32 backend computes it.
    expect(values((await executable.run({ x: f32([1], [1]) })).y!)).toEqual([0]);
    const exact = runFloat64(graph, { x: { shape: [1], data: Float64Array.of(1) } }).y!;
    expect(exact.data[0]).toBeCloseTo(Math.fround(1e-8), 20);
    // precision "float64" rounds only the outputs.
    const wide = await new ReferenceBackend({ precision: "float64" }).compile(graph);
    expect(values((await wide.run({ x: f32([1], [1]) })).y!)).toEqual([Math.fround(1 + Math.fround(1e-8) - 1)]);
  });
});

describe("reference backend: matmul", () => {
  const A = [1, 2, 3, 4];
  const B = [5, 6, 7, 8];
  const mm2 = (a: number[], b: number[]) => [a[0]! * b[0]! + a[1]! * b[2]!, a[0]! * b[1]! + a[1]! * b[3]!, a[2]! * b[0]! + a[3]! * b[2]!, a[2]! * b[1]! + a[3]! * b[3]!];

  it("multiplies matrices", async () => {
    const y = await value((b) => b.constant(f32([2, 2], A)).matmul(b.constant(f32([2, 2], B))));
    expect(values(y)).toEqual([19, 22, 43, 50]);
    const rect = await value((b) => b.constant(f32([1, 3], [1, 2, 3])).matmul(b.constant(f32([3, 2], [1, 0, 0, 1, 1, 1]))));
    expect(rect.shape).toEqual([1, 2]);
    expect(values(rect)).toEqual([4, 5]);
  });

  it("broadcasts batch axes", async () => {
    const identity = [1, 0, 0, 1];
    const double = A.map((v) => 2 * v);
    const left = [A, double]; // [2, 1, 2, 2]
    const right = [identity, B, A]; // [3, 2, 2]
    const y = await value((b) => b.constant(f32([2, 1, 2, 2], left.flat())).matmul(b.constant(f32([3, 2, 2], right.flat()))));
    expect(y.shape).toEqual([2, 3, 2, 2]);
    expect(values(y)).toEqual(left.flatMap((l) => right.flatMap((r) => mm2(l, r))));
    // rank 3 times rank 2: the matrix is shared by every batch.
    const shared = await value((b) => b.constant(f32([2, 2, 2], left.flat())).matmul(b.constant(f32([2, 2], B))));
    expect(values(shared)).toEqual(left.flatMap((l) => mm2(l, B)));
  });
});

describe("reference backend: reductions", () => {
  const x = f32([2, 3], [1, 5, 3, -4, 2, 8]);

  it("sums and maxes over axes, with and without keepDims", async () => {
    const out = await run((b) => {
      const t = b.constant(x);
      return { s0: t.sum(0), s1k: t.sum(1, true), all: t.sum(), m1: t.max(1), m0k: t.max(0, true), mean: t.mean(-1) };
    });
    expect(out.s0!.shape).toEqual([3]);
    expect(values(out.s0!)).toEqual([-3, 7, 11]);
    expect(out.s1k!.shape).toEqual([2, 1]);
    expect(values(out.s1k!)).toEqual([9, 6]);
    expect(out.all!.shape).toEqual([]);
    expect(values(out.all!)).toEqual([15]);
    expect(values(out.m1!)).toEqual([5, 8]);
    expect(out.m0k!.shape).toEqual([1, 3]);
    expect(values(out.m0k!)).toEqual([1, 5, 8]);
    expect(values(out.mean!)).toEqual([3, 2]);
  });

  it("reduces over non-adjacent axes", async () => {
    const t = f32([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const y = await value((b) => b.constant(t).sum([0, 2]));
    expect(values(y)).toEqual([1 + 2 + 5 + 6, 3 + 4 + 7 + 8]);
  });

  it("softmaxes along an axis: rows sum to 1, large logits do not overflow", async () => {
    const out = await run((b) => {
      const t = b.constant(f32([2, 3], [1, 2, 3, 1000, 1000, 1000]));
      return { last: t.softmax(-1), first: t.softmax(0) };
    });
    const last = values(out.last!);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const total = e[0]! + e[1]! + e[2]!;
    expect(last.slice(0, 3)).toEqual(e.map((v) => Math.fround(v / total)));
    expect(last.slice(3)).toEqual([1 / 3, 1 / 3, 1 / 3].map(Math.fround));
    for (const row of [0, 1]) expect(last.slice(row * 3, row * 3 + 3).reduce((a, b) => a + b)).toBeCloseTo(1, 6);
    const first = values(out.first!); // columns [1, 1000], [2, 1000], [3, 1000]
    expect(first.slice(0, 3)).toEqual([0, 0, 0]);
    expect(first.slice(3)).toEqual([1, 1, 1]);
  });
});

describe("reference backend: indexing", () => {
  const table = f32([4, 2], [0, 1, 10, 11, 20, 21, 30, 31]);

  it("gathers rows with int32 and int64 indices of any shape, negative counting from the end", async () => {
    const out = await run((b) => ({
      i32: b.constant(table).gather(b.constant(HostTensor.int32([2, 2], [3, 0, 0, -1]))),
      i64: b.constant(table).gather(b.constant(HostTensor.int64([1], [2]))),
    }));
    expect(out.i32!.shape).toEqual([2, 2, 2]);
    expect(values(out.i32!)).toEqual([30, 31, 0, 1, 0, 1, 30, 31]);
    expect(values(out.i64!)).toEqual([20, 21]);
  });

  it("rejects an out-of-range index, naming it", async () => {
    const gather = run((b) => ({ y: b.constant(table).gather(b.constant(HostTensor.int32([2], [1, 4]))) }));
    await expect(gather).rejects.toThrow(InvalidArgumentError);
    await expect(gather).rejects.toThrow(/index 4 is out of range for 4 rows/);
    const below = run((b) => ({ y: b.constant(table).gather(b.constant(HostTensor.int64([1], [-5]))) }));
    await expect(below).rejects.toThrow(/index -5/);
    const scatter = run((b) => ({ y: b.scatterAdd(b.constant(HostTensor.int32([1], [7])), b.constant(f32([1, 2], [1, 1])), 4) }));
    await expect(scatter).rejects.toThrow(/index 7/);
  });

  it("scatter-adds rows, summing duplicate indices", async () => {
    const y = await value((b) =>
      b.scatterAdd(b.constant(HostTensor.int32([2, 2], [1, 3, 1, 1])), b.constant(f32([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])), 4),
    );
    expect(y.shape).toEqual([4, 2]);
    expect(values(y)).toEqual([0, 0, 1 + 5 + 7, 2 + 6 + 8, 0, 0, 3, 4]);
  });

  it("slices, concatenates, transposes, reshapes and broadcasts", async () => {
    const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    const out = await run((b) => {
      const t = b.constant(x);
      return {
        slice: t.slice(1, 1, 3),
        sliceRows: t.slice(0, 1, 2),
        concat0: b.concat([t, t.slice(0, 0, 1)], 0),
        concat1: b.concat([t.slice(1, 2, 3), t], -1),
        transpose: t.transpose([1, 0]),
        transpose3: t.reshape([1, 2, 3]).transpose([2, 0, 1]),
        reshape: t.reshape([3, -1]),
        broadcast: b.constant(f32([2, 1], [7, 8])).broadcastTo([2, 2, 3]),
      };
    });
    expect(out.slice!.shape).toEqual([2, 2]);
    expect(values(out.slice!)).toEqual([2, 3, 5, 6]);
    expect(values(out.sliceRows!)).toEqual([4, 5, 6]);
    expect(out.concat0!.shape).toEqual([3, 3]);
    expect(values(out.concat0!)).toEqual([1, 2, 3, 4, 5, 6, 1, 2, 3]);
    expect(out.concat1!.shape).toEqual([2, 4]);
    expect(values(out.concat1!)).toEqual([3, 1, 2, 3, 6, 4, 5, 6]);
    expect(out.transpose!.shape).toEqual([3, 2]);
    expect(values(out.transpose!)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(out.transpose3!.shape).toEqual([3, 1, 2]);
    expect(values(out.transpose3!)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(out.reshape!.shape).toEqual([3, 2]);
    expect(values(out.reshape!)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.broadcast!.shape).toEqual([2, 2, 3]);
    expect(values(out.broadcast!)).toEqual([7, 7, 7, 8, 8, 8, 7, 7, 7, 8, 8, 8]);
  });

  it("keeps int64 values exact through data movement", async () => {
    const ids = HostTensor.int64([2, 2], [1, 2, 3, 4]);
    const y = await value((b) => b.constant(ids).transpose([1, 0]).reshape([4]));
    expect(y.data).toEqual(BigInt64Array.from([1n, 3n, 2n, 4n]));
  });
});

describe("reference backend: inputs", () => {
  const graph = (): Graph => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [2]);
    const ids = b.input("ids", "int32", [1]);
    return b.build({ y: x.gather(ids) });
  };

  it("runs with its inputs and reports them by name when wrong", async () => {
    const executable = await new ReferenceBackend().compile(graph());
    const x = f32([2], [5, 6]);
    const ids = HostTensor.int32([1], [1]);
    expect(values((await executable.run({ x, ids })).y!)).toEqual([6]);

    const missing = executable.run({ x });
    await expect(missing).rejects.toThrow(InvalidArgumentError);
    await expect(missing).rejects.toThrow(/'ids': missing; the graph declares it as int32\[1\]/);

    const wrongShape = executable.run({ x: f32([3], [1, 2, 3]), ids });
    await expect(wrongShape).rejects.toThrow(ShapeMismatchError);
    await expect(wrongShape).rejects.toThrow(/input 'x': expected \[2\], got \[3\]/);

    const wrongDType = executable.run({ x, ids: HostTensor.int64([1], [1]) });
    await expect(wrongDType).rejects.toThrow(InvalidArgumentError);
    await expect(wrongDType).rejects.toThrow(/'ids': expected int32, got int64/);

    const unknown = executable.run({ x, ids, z: x });
    await expect(unknown).rejects.toThrow(/'z': is not an input of the graph/);
  });

  it("accepts float64 values only for float inputs in runFloat64", () => {
    expect(() => runFloat64(graph(), { x: { shape: [2], data: Float64Array.of(1, 2) }, ids: { shape: [1], data: Float64Array.of(0) } })).toThrow(
      /'ids': float64 values given for a int32 input/,
    );
    const out = runFloat64(graph(), { x: { shape: [2], data: Float64Array.of(0.1, 0.2) }, ids: HostTensor.int32([1], [1]) });
    expect(out.y!.data).toEqual(Float64Array.of(0.2));
  });

  it("is unusable after dispose", async () => {
    const executable = await new ReferenceBackend().compile(graph());
    await executable.dispose();
    await expect(executable.run({ x: f32([2], [1, 2]), ids: HostTensor.int32([1], [0]) })).rejects.toThrow(/dispose/);
  });
});
