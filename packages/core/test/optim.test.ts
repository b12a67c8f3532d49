// Training primitives against properties that pin them down: Adam's first step moves each weight
// by lr against the gradient's sign (bias correction), decay is decoupled (a zero gradient still
// shrinks weights by lr * decay), clipping rescales to the max norm, the schedule's shape.
import { describe, expect, it } from "vitest";
import { AdamW, clipGradNorm, HostTensor, warmupCosine } from "../src/index.js";

describe("AdamW", () => {
  it("moves each weight by lr against the gradient's sign on the first step", () => {
    const w = HostTensor.float32([3], [1, -2, 3]);
    const optimizer = new AdamW({ weightDecay: 0 });
    optimizer.step(new Map([["w", w]]), new Map([["w", HostTensor.float32([3], [0.5, -3, 1e-3])]]), 0.1);
    expect(Array.from(w.data)).toEqual([1 - 0.1, -2 + 0.1, 3 - 0.1].map((x, i) => expect.closeTo(x, i === 2 ? 5 : 6)));
  });

  it("decays weights decoupled from the gradient, except where told not to", () => {
    const decayed = HostTensor.float32([1], [2]);
    const exempt = HostTensor.float32([1], [2]);
    const optimizer = new AdamW({ weightDecay: 0.5, noDecay: (name) => name === "exempt" });
    const zero = HostTensor.float32([1], [0]);
    optimizer.step(new Map([["decayed", decayed], ["exempt", exempt]]), new Map([["decayed", zero], ["exempt", zero]]), 0.1);
    expect(decayed.data[0]).toBeCloseTo(2 - 0.1 * 0.5 * 2, 6);
    expect(exempt.data[0]).toBe(2);
  });

  it("minimises a quadratic", () => {
    const w = HostTensor.float32([2], [5, -7]);
    const optimizer = new AdamW({ weightDecay: 0 });
    for (let step = 0; step < 2000; step++) {
      const grad = HostTensor.float32([2], [2 * (w.data[0]! - 1), 2 * (w.data[1]! + 3)]);
      optimizer.step(new Map([["w", w]]), new Map([["w", grad]]), 0.05);
    }
    expect(w.data[0]).toBeCloseTo(1, 2);
    expect(w.data[1]).toBeCloseTo(-3, 2);
  });
});

describe("clipGradNorm", () => {
  it("rescales to the maximum global norm and reports the norm before", () => {
    const grads = new Map([
      ["a", HostTensor.float32([2], [3, 0])],
      ["b", HostTensor.float32([1], [4])],
    ]);
    expect(clipGradNorm(grads, 1)).toBeCloseTo(5, 6);
    expect(Array.from(grads.get("a")!.data)).toEqual([expect.closeTo(0.6, 5), 0]);
    expect(grads.get("b")!.data[0]).toBeCloseTo(0.8, 5);
    expect(clipGradNorm(grads, 10)).toBeCloseTo(1, 4);
    expect(grads.get("b")!.data[0]).toBeCloseTo(0.8, 5);
  });
});

describe("warmupCosine", () => {
  it("warms up linearly, peaks, and decays to the floor", () => {
    const lr = warmupCosine({ maxLr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 });
    expect(lr(0)).toBeCloseTo(0.1);
    expect(lr(9)).toBeCloseTo(1);
    expect(lr(60)).toBeCloseTo(0.55);
    expect(lr(110)).toBeCloseTo(0.1);
    expect(lr(500)).toBeCloseTo(0.1);
  });
});
