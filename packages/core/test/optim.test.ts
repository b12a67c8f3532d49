// The optimiser graph against properties that pin it down and against torch's formulas computed
// here in float64: Adam's first step moves each weight by lr against the gradient's sign (bias
// correction), decay is decoupled (a zero gradient still shrinks weights by lr * decay), clipping
// rescales every gradient by max / global norm, and its state round-trips into a fresh optimiser.
import { describe, expect, it } from "vitest";
import { AdamW, type Backend, type BackendTensor, HostTensor, Random, ReferenceBackend, warmupCosine } from "../src/index.js";
import { OnnxBackend } from "../src/node.js";

const read = async (backend: Backend, tensor: BackendTensor) => Array.from((await backend.read(tensor)).toFloat32().data);

/** torch.optim.AdamW after clip_grad_norm_, in float64, for one weight. */
function torchAdamW(w: number[], grads: number[][], lrs: number[], options: { weightDecay: number; maxGradNorm?: number }) {
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  const m = w.map(() => 0);
  const v = w.map(() => 0);
  grads.forEach((raw, step) => {
    const norm = Math.sqrt(raw.reduce((s, g) => s + g * g, 0));
    const scale = options.maxGradNorm !== undefined && norm > options.maxGradNorm ? options.maxGradNorm / (norm + 1e-6) : 1;
    const t = step + 1;
    const lr = lrs[step]!;
    raw.forEach((g0, i) => {
      const g = g0 * scale;
      w[i] = w[i]! * (1 - lr * options.weightDecay);
      m[i] = beta1 * m[i]! + (1 - beta1) * g;
      v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
      w[i] = w[i]! - (lr / (1 - beta1 ** t)) * (m[i]! / (Math.sqrt(v[i]! / (1 - beta2 ** t)) + eps));
    });
  });
  return w;
}

describe("AdamW (one graph over a flat weight buffer)", () => {
  for (const backend of [new ReferenceBackend(), new OnnxBackend({ intraOpThreads: 1 })]) {
    it(`matches torch's AdamW with clipping over several steps, decaying only the leading weights (${backend.name})`, async () => {
      const random = new Random(3);
      const start = Array.from({ length: 6 }, () => random.normal());
      const grads = Array.from({ length: 5 }, () => Array.from({ length: 6 }, () => random.normal() * 3));
      const lrs = [0.1, 0.05, 0.02, 0.1, 0.01];
      const decayed = torchAdamW([...start], grads, lrs, { weightDecay: 0.1, maxGradNorm: 2 });
      const exempt = torchAdamW([...start], grads, lrs, { weightDecay: 0, maxGradNorm: 2 });
      const optimizer = new AdamW(backend, 6, { weightDecay: 0.1, maxGradNorm: 2, decayed: 4 });
      let params: BackendTensor = backend.upload(HostTensor.float32([6], start));
      const norms: number[] = [];
      for (const [step, grad] of grads.entries()) {
        const result = await optimizer.step(params, HostTensor.float32([6], grad), lrs[step]!);
        params = result.params;
        norms.push(result.gradNorm);
      }
      const got = await read(backend, params);
      got.forEach((value, i) => expect(value).toBeCloseTo(i < 4 ? decayed[i]! : exempt[i]!, 5));
      expect(norms[0]).toBeCloseTo(Math.sqrt(grads[0]!.reduce((s, g) => s + g * g, 0)), 4);
      await optimizer.dispose();
    });
  }

  it("moves each weight by lr against the gradient's sign on the first step", async () => {
    const backend = new ReferenceBackend();
    const optimizer = new AdamW(backend, 3, { weightDecay: 0 });
    const { params } = await optimizer.step(backend.upload(HostTensor.float32([3], [1, -2, 3])), HostTensor.float32([3], [0.5, -3, 1e-3]), 0.1);
    const w = await read(backend, params);
    [1 - 0.1, -2 + 0.1, 3 - 0.1].forEach((x, i) => expect(w[i]).toBeCloseTo(x, i === 2 ? 4 : 6));
  });

  it("decays decoupled from the gradient: a zero gradient still shrinks a weight by lr * decay", async () => {
    const backend = new ReferenceBackend();
    const optimizer = new AdamW(backend, 2, { weightDecay: 0.5, decayed: 1 });
    const { params } = await optimizer.step(backend.upload(HostTensor.float32([2], [2, 2])), HostTensor.float32([2], [0, 0]), 0.1);
    const [decayed, exempt] = await read(backend, params);
    expect(decayed).toBeCloseTo(2 - 0.1 * 0.5 * 2, 6);
    expect(exempt).toBe(2);
  });

  it("continues exactly from its saved state", async () => {
    const backend = new OnnxBackend({ intraOpThreads: 1 });
    const grads = [[1, -2], [0.5, 0.25], [-1, 3], [2, 2]].map((g) => HostTensor.float32([2], g));
    const straight = new AdamW(backend, 2);
    let a: BackendTensor = backend.upload(HostTensor.float32([2], [1, 1]));
    for (const grad of grads) a = (await straight.step(a, grad, 0.1)).params;

    const first = new AdamW(backend, 2);
    let b: BackendTensor = backend.upload(HostTensor.float32([2], [1, 1]));
    for (const grad of grads.slice(0, 2)) b = (await first.step(b, grad, 0.1)).params;
    const saved = await first.state();
    const resumed = new AdamW(backend, 2);
    resumed.load(saved);
    for (const grad of grads.slice(2)) b = (await resumed.step(b, grad, 0.1)).params;
    expect(await read(backend, b)).toEqual(await read(backend, a));
    expect(saved.step).toBe(2);
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
