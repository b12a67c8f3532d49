// The two places where `gradients` departs from applying each op's rule in turn, because the
// rule-by-rule graph costs a training step far more than it needs to: the gradient of a matrix
// broadcast over batch axes (a linear layer's weight) is one product over all rows, and a
// log-sum-exp's gradient is the softmax read off its own forward values. Each is checked for its
// structure (what the derived graph no longer holds) and, in float64 on the reference backend,
// against central finite differences, including the shapes it must leave to the plain rules.
import { describe, expect, it } from "vitest";
import { type Float64Tensor, type Graph, GraphBuilder, gradients, type Node, Random, runFloat64, type SymbolicTensor } from "../src/index.js";

const EPS = 1e-6;

type Inputs = Record<string, Float64Tensor>;

function normal(random: Random, shape: number[]): Float64Tensor {
  return { shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random.normal()) };
}

/** The largest difference between the analytic and the central-difference gradients, relative to the largest of the latter. */
function relativeError(graph: Graph, inputs: Inputs, wrt: readonly string[]): number {
  const analytic = runFloat64(gradients(graph, { loss: "loss", wrt }), inputs);
  const lossAt = (values: Inputs) => runFloat64(graph, values).loss!.data[0]!;
  let worst = 0;
  for (const name of wrt) {
    const base = inputs[name]!;
    let difference = 0;
    let scale = 0;
    for (let i = 0; i < base.data.length; i++) {
      const at = (delta: number) => {
        const data = Float64Array.from(base.data);
        data[i]! += delta;
        return lossAt({ ...inputs, [name]: { shape: base.shape, data } });
      };
      const numeric = (at(EPS) - at(-EPS)) / (2 * EPS);
      difference = Math.max(difference, Math.abs(analytic[`grad.${name}`]!.data[i]! - numeric));
      scale = Math.max(scale, Math.abs(numeric));
    }
    expect(scale, `gradient of ${name} should not vanish`).toBeGreaterThan(1e-3);
    worst = Math.max(worst, difference / scale);
  }
  return worst;
}

/** sum(y * outputWeights), an input drawn at random, so the loss weighs every entry of y differently. */
function weightedSum(b: GraphBuilder, y: SymbolicTensor): SymbolicTensor {
  return y.mul(b.input("outputWeights", "float32", y.shape)).sum();
}

const inputOf = (graph: Graph, node: Node, i: number): Node => graph.nodes[node.inputs[i]!]!;

describe("the gradient of a matrix broadcast over batch axes", () => {
  const cases: { name: string; a: number[]; b: number[]; transposed?: boolean }[] = [
    { name: "a linear layer: [2, 3, 4] x weight^T, weight [5, 4]", a: [2, 3, 4], b: [5, 4], transposed: true },
    { name: "grouped heads: [2, 2, 3, 4] x [2, 1, 4, 5] (one key head per two query heads)", a: [2, 2, 3, 4], b: [2, 1, 4, 5] },
    { name: "broadcast on a leading axis only: [2, 3, 4, 5] x [1, 3, 5, 2]", a: [2, 3, 4, 5], b: [1, 3, 5, 2] },
    { name: "a itself broadcast: [1, 3, 4] x [2, 4, 5]", a: [1, 3, 4], b: [2, 4, 5] },
    { name: "both broadcast: [1, 2, 3, 4] x [2, 1, 4, 5]", a: [1, 2, 3, 4], b: [2, 1, 4, 5] },
    { name: "a missing axis of b and a size-1 one: [3, 1, 2, 4] x [1, 4, 5]", a: [3, 1, 2, 4], b: [1, 4, 5] },
  ];
  for (const testCase of cases) {
    it(`matches finite differences: ${testCase.name}`, () => {
      const random = new Random(11);
      const b = new GraphBuilder();
      const a = b.input("a", "float32", testCase.a);
      const w = b.input("w", "float32", testCase.b);
      const y = a.matmul(testCase.transposed ? w.transpose([1, 0]) : w);
      const graph = b.build({ loss: weightedSum(b, y) });
      const inputs = { a: normal(random, testCase.a), w: normal(random, testCase.b), outputWeights: normal(random, y.shape as number[]) };
      expect(relativeError(graph, inputs, ["a", "w"])).toBeLessThan(1e-6);
    });
  }

  it("is one product over all rows, not a product per batch entry summed afterwards", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", ["batch", "seq", 4]);
    const w = b.input("w", "float32", [5, 4]);
    const y = x.matmul(w.transpose([1, 0]));
    const derived = gradients(b.build({ loss: y.mul(y).sum() }), { loss: "loss", wrt: ["w"] });
    const products = derived.nodes.filter((node) => node.op.kind === "matmul");
    // The forward product, then the weight's gradient [4, 5] from rows folded to batch * seq.
    expect(products.map((node) => node.shape)).toEqual([
      ["batch", "seq", 5],
      [4, 5],
    ]);
    const reducesAProduct = derived.nodes.some((node) => node.op.kind === "reduce" && inputOf(derived, node, 0).op.kind === "matmul");
    expect(reducesAProduct).toBe(false);

    const random = new Random(3);
    const inputs = { x: normal(random, [2, 3, 4]), w: normal(random, [5, 4]) };
    const out = runFloat64(derived, inputs);
    // d sum(y^2) / dW = 2 y^T x over all 6 rows.
    const yData = runFloat64(b.build({ y }), inputs).y!.data;
    const expected = new Float64Array(20);
    for (let row = 0; row < 6; row++) {
      for (let o = 0; o < 5; o++) for (let k = 0; k < 4; k++) expected[o * 4 + k]! += 2 * yData[row * 5 + o]! * inputs.x.data[row * 4 + k]!;
    }
    out["grad.w"]!.data.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 10));
  });
});

describe("the gradient of a log-sum-exp", () => {
  it("is the softmax times the incoming gradient, with no pass through the max", () => {
    const random = new Random(5);
    const b = new GraphBuilder();
    const logits = b.input("logits", "float32", [3, 7]);
    const graph = b.build({ loss: weightedSum(b, logits.logSumExp(-1)) });
    const derived = gradients(graph, { loss: "loss", wrt: ["logits"] });
    // The max's own rule would compare x with it and select by the result.
    expect(derived.nodes.filter((node) => node.op.kind === "compare" || node.op.kind === "where")).toEqual([]);
    const inputs = { logits: normal(random, [3, 7]), outputWeights: normal(random, [3]) };
    expect(relativeError(graph, inputs, ["logits"])).toBeLessThan(1e-6);
  });

  it("matches finite differences where logits tie at the maximum and inside a cross-entropy", () => {
    const random = new Random(6);
    const b = new GraphBuilder();
    const logits = b.input("logits", "float32", [2, 4]);
    const picked = logits.slice(1, 1, 2).reshape([2]);
    const graph = b.build({ loss: logits.logSumExp(-1, true).reshape([2]).sub(picked).mul(b.input("outputWeights", "float32", [2])).sum() });
    const inputs = { logits: { shape: [2, 4], data: Float64Array.of(1.5, 1.5, -0.25, 0.5, 0.3, 2, 2, -1) }, outputWeights: normal(random, [2]) };
    expect(relativeError(graph, inputs, ["logits"])).toBeLessThan(1e-6);
  });

  it("leaves a max that something else reads to the plain rules, and stays correct", () => {
    const random = new Random(7);
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [3, 5]);
    const maximum = x.max(-1, true);
    const lse = x.sub(maximum).exp().sum(-1, true).log().add(maximum);
    // The max read a second time: its gradient no longer cancels, so the rules must route it.
    const graph = b.build({ loss: weightedSum(b, lse.add(maximum.mul(2)).reshape([3])) });
    const derived = gradients(graph, { loss: "loss", wrt: ["x"] });
    expect(derived.nodes.some((node) => node.op.kind === "where")).toBe(true);
    const inputs = { x: normal(random, [3, 5]), outputWeights: normal(random, [3]) };
    expect(relativeError(graph, inputs, ["x"])).toBeLessThan(1e-6);
  });
});
