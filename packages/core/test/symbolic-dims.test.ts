// Symbolic dims: the polynomial arithmetic of dims.ts, shape rules over names, and one traced
// graph (reshape to a product, concat to a sum, a slice to a symbolic end, broadcasting, and its
// gradient) run at several shapes on onnxruntime and on the reference backend, which must agree
// with each other and with a graph traced at the concrete shape.
import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import {
  bindDims,
  dim,
  dimAdd,
  dimDivide,
  dimMul,
  dimSub,
  evaluateDims,
  gradients,
  GraphBuilder,
  HostTensor,
  InvalidArgumentError,
  Random,
  ReferenceBackend,
  ShapeMismatchError,
  type Dims,
  type Graph,
} from "../src/index.js";
import { graphToOnnx, OnnxBackend } from "../src/node.js";

describe("dim arithmetic", () => {
  it("keeps one canonical text per polynomial", () => {
    expect(dim("seq+past")).toBe("past+seq");
    // ONNX writers space their expressions (Optimum's "past_sequence_length + sequence_length").
    expect(dim("seq + past")).toBe("past+seq");
    expect(dim(" 2 * seq - 1 ")).toBe("2*seq-1");
    expect(dimAdd("past", "seq")).toBe("past+seq");
    expect(dimSub(dimAdd("past", "seq"), "seq")).toBe("past");
    expect(dimSub("seq", "seq")).toBe(0);
    expect(dimMul("seq", "batch")).toBe("batch*seq");
    expect(dimMul(dimAdd("seq", 1), 4)).toBe("4*seq+4");
    expect(dimDivide(dimMul(dimMul("batch", "seq"), 8), "batch")).toBe("8*seq");
    expect(dimDivide("batch*seq", "past")).toBeUndefined();
    expect(dimDivide(12, 4)).toBe(3);
    expect(evaluateDims(["batch*seq", "past+seq", 3, "2*seq-1"], new Map([["batch", 2], ["seq", 5], ["past", 7]]))).toEqual([10, 12, 3, 9]);
  });

  it("binds names from the first input that has them and checks every expression", () => {
    const declared: [string, Dims, number[]][] = [
      ["x", ["batch", "seq", 4], [2, 3, 4]],
      ["mask", ["seq", "past+seq"], [3, 10]],
      ["past", ["batch", "past", 4], [2, 7, 4]],
    ];
    expect([...bindDims(declared)]).toEqual([["batch", 2], ["seq", 3], ["past", 7]]);
    const wrongSum: [string, Dims, number[]][] = [...declared.slice(0, 1), ["mask", ["seq", "past+seq"], [3, 11]], declared[2]!];
    expect(() => bindDims(wrongSum)).toThrow(/input 'mask': expected \[3, 10\]/);
    const wrongBatch: [string, Dims, number[]][] = [...declared.slice(0, 2), ["past", ["batch", "past", 4], [3, 7, 4]]];
    expect(() => bindDims(wrongBatch)).toThrow(ShapeMismatchError);
  });

  it("rejects at trace time what no binding could make valid", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", ["batch", "seq", 4]);
    const y = b.input("y", "float32", ["batch", 5, 4]);
    expect(() => x.add(y)).toThrow(/cannot broadcast/);
    expect(() => x.matmul(b.input("w", "float32", [5, 3]))).toThrow(/inner dimensions/);
    expect(() => x.reshape(["batch", -1, 3])).toThrow(/cannot become/);
    expect(x.reshape(["batch", -1]).shape).toEqual(["batch", "4*seq"]);
    // Dims on both sides cancel before the division: a sum times 8 back to the sum and 8.
    const joined = b.input("joined", "float32", ["past+seq", 8]);
    expect(joined.reshape(["past+seq", -1]).shape).toEqual(["past+seq", 8]);
    expect(b.input("empty", "float32", [0, 4]).mean(-1).shape).toEqual([0]);
  });

  it("checks symbolic slice ranges when the graph runs", async () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [4]);
    const n = b.input("n", "float32", ["n"]);
    const graph = b.build({ y: x.slice(0, 0, "n"), n });
    const reference = await new ReferenceBackend().compile(graph);
    const ok = await reference.run({ x: HostTensor.float32([4], [1, 2, 3, 4]), n: HostTensor.float32([3]) });
    expect(Array.from(ok.y!.toFloat32().data)).toEqual([1, 2, 3]);
    await expect(reference.run({ x: HostTensor.float32([4], [1, 2, 3, 4]), n: HostTensor.float32([6]) })).rejects.toThrow(ShapeMismatchError);
  });
});

/**
 * A small graph exercising every op whose attributes carry dims: x [batch, seq, 4] projected,
 * concatenated after past [batch, past, 3], sliced back to the past's length, flattened, and
 * broadcast against a [batch, 1, 1] scale.
 */
function traceGraph(shape: { batch: number | string; seq: number | string; past: number | string }): Graph {
  const b = new GraphBuilder();
  const x = b.input("x", "float32", [shape.batch, shape.seq, 4]);
  const past = b.input("past", "float32", [shape.batch, shape.past, 3]);
  const w = b.input("w", "float32", [4, 3]);
  const scale = b.input("scale", "float32", [shape.batch, 1, 1]);
  const projected = x.reshape([-1, 4]).matmul(w).reshape([shape.batch, shape.seq, 3]);
  const joined = b.concat([past, projected.tanh()], 1); // [batch, past+seq, 3]
  const head = joined.slice(1, 0, shape.past).mul(scale); // the past again, scaled
  const tail = joined.slice(1, shape.past, dimAdd(shape.past, shape.seq)).softmax(-1);
  const flat = tail.reshape([shape.batch, -1]); // [batch, 3*seq]
  const loss = joined.mul(joined).sum().add(head.sum()).add(flat.mul(scale.reshape([shape.batch, 1])).sum());
  const forward = b.build({ joined, flat, loss });
  return gradients(forward, { loss: "loss", wrt: ["x", "w", "past", "scale"] });
}

function inputsFor(random: Random, batch: number, seq: number, past: number): Record<string, HostTensor> {
  const tensor = (shape: number[]) => HostTensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random.normal()));
  return { x: tensor([batch, seq, 4]), past: tensor([batch, past, 3]), w: tensor([4, 3]), scale: tensor([batch, 1, 1]) };
}

function maxDifference(a: HostTensor, b: HostTensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.toFloat32().data;
  const y = b.toFloat32().data;
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  return worst;
}

describe("one symbolic graph serves every shape", () => {
  const symbolic = traceGraph({ batch: "batch", seq: "seq", past: "past" });
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [2, 3, 5],
    [3, 6, 2],
  ];

  it("declares its dims as ONNX dim_params", () => {
    const model = onnxProto.onnx.ModelProto.decode(graphToOnnx(symbolic));
    const x = model.graph!.input!.find((input) => input.name === "x")!;
    expect(x.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(["batch", "seq", 4]);
    const joined = model.graph!.output!.find((output) => output.name === "joined")!;
    expect(joined.type!.tensorType!.shape!.dim![1]!.dimParam).toBe("past + seq");
  });

  it("matches a graph traced at the concrete shape, on onnxruntime and the reference backend", async () => {
    const random = new Random(7);
    const onnx = await new OnnxBackend({ intraOpThreads: 1 }).compile(symbolic);
    const reference = await new ReferenceBackend().compile(symbolic);
    for (const [batch, seq, past] of shapes) {
      const inputs = inputsFor(random, batch, seq, past);
      const concrete = await new ReferenceBackend().compile(traceGraph({ batch, seq, past }));
      const expected = await concrete.run(inputs);
      const fromOnnx = await onnx.run(inputs);
      const fromReference = await reference.run(inputs);
      for (const name of Object.keys(expected)) {
        expect(fromReference[name]!.shape, name).toEqual(expected[name]!.shape);
        expect(maxDifference(fromReference[name]!, expected[name]!), name).toBeLessThan(1e-6);
        expect(maxDifference(fromOnnx[name]!, expected[name]!), name).toBeLessThan(1e-4);
      }
    }
  });

  it("names the input whose shape disagrees with the others", async () => {
    const random = new Random(8);
    const inputs = { ...inputsFor(random, 2, 3, 5), scale: HostTensor.float32([3, 1, 1]) };
    const onnx = await new OnnxBackend().compile(symbolic);
    await expect(onnx.run(inputs)).rejects.toThrow(InvalidArgumentError);
    await expect(onnx.run(inputs)).rejects.toThrow(/'past'|'scale'/);
    const reference = await new ReferenceBackend().compile(symbolic);
    await expect(reference.run(inputs)).rejects.toThrow(/input '(past|scale)': expected/);
  });
});

describe("backend tensors", () => {
  it("upload once, run many times, read back a copy, refuse after free", async () => {
    for (const backend of [new OnnxBackend({ intraOpThreads: 1 }), new ReferenceBackend()]) {
      const b = new GraphBuilder();
      const x = b.input("x", "float32", ["n"]);
      const w = b.input("w", "float32", [1]);
      const executable = await backend.compile(b.build({ y: x.mul(w) }));
      const weight = backend.upload(HostTensor.float32([1], [3]));
      expect(weight.shape).toEqual([1]);
      for (const n of [1, 4]) {
        const { y } = await executable.run({ x: HostTensor.float32([n], Array.from({ length: n }, (_, i) => i)), w: weight });
        expect(Array.from(y!.toFloat32().data)).toEqual(Array.from({ length: n }, (_, i) => 3 * i));
      }
      const resident = await executable.runResident({ x: HostTensor.float32([2], [1, 2]), w: weight });
      const again = await executable.run({ x: resident.y!, w: weight });
      expect(Array.from(again.y!.toFloat32().data)).toEqual([9, 18]);
      const copy = await backend.read(weight);
      copy.toFloat32().data[0] = 5;
      expect(Array.from((await backend.read(weight)).toFloat32().data)).toEqual([3]);
      backend.free(weight);
      await expect(executable.run({ x: HostTensor.float32([1], [1]), w: weight })).rejects.toThrow(/freed/);
      const other = backend instanceof OnnxBackend ? new ReferenceBackend() : new OnnxBackend();
      expect(() => backend.free(other.upload(HostTensor.float32([1], [1])))).toThrow(/backend/);
    }
  });
});
