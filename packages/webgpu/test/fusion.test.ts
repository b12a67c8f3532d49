// Elementwise fusion against the unfused graph it replaces: the GeGLU, soft-cap and RMSNorm
// chains, Gemma 2's logits and training steps give the values of one launch per op, in fewer
// launches. (Fused kernels evaluate the same WGSL per op; only the compiler's freedom to contract
// a multiply and an add separates them, hence 1e-6 rather than bit equality.)
import {
  attention,
  geluTanh,
  Gemma2Model,
  GraphBuilder,
  HostTensor,
  initParams,
  languageModeling,
  presetConfig,
  Random,
  ReferenceBackend,
  rmsNorm,
  ropeTables,
  softCap,
  Trainer,
  type Graph,
} from "@gemma-ts/core";
import { afterAll, describe, expect, it } from "vitest";
import { WebGpuBackend, type WebGpuExecutable } from "../src/index.js";
import { nodeGpu } from "../src/node.js";
import { cappedModel } from "./support/capped-model.js";
import { testBackend } from "./support/webgpu.js";

const setup = await testBackend();

function maxRelativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

describe.skipIf(setup.skip !== undefined)(`elementwise fusion${setup.skip ? ` (skipped: ${setup.skip})` : ""}`, () => {
  const fused = setup.backend!;
  let unfused: WebGpuBackend;
  afterAll(() => {
    fused.destroy();
    unfused?.destroy();
  });

  it("GeGLU, a soft-cap and RMSNorm: one launch each where the unfused graph has many, same values", async () => {
    unfused = await WebGpuBackend.create({ gpu: nodeGpu(), fuse: false });
    const graphs: Record<string, Graph> = {
      geglu: (() => {
        const g = new GraphBuilder();
        return g.build({ out: geluTanh(g.input("gate", "float32", ["rows", 24])).mul(g.input("up", "float32", ["rows", 24])) });
      })(),
      softCap: (() => {
        const g = new GraphBuilder();
        return g.build({ out: softCap(g.input("gate", "float32", ["rows", 24]), 30) });
      })(),
      rmsNorm: (() => {
        const g = new GraphBuilder();
        return g.build({ out: rmsNorm(g.input("gate", "float32", ["rows", 24]), g.input("weight", "float32", [24]), 1e-6) });
      })(),
      // Attention's scores: scaled, soft-capped, masked, then the softmax reads them as its prologue.
      cappedSoftmax: (() => {
        const g = new GraphBuilder();
        const mask = g.input("up", "float32", ["rows", 24]).greater(0);
        return g.build({ out: g.where(mask, softCap(g.input("gate", "float32", ["rows", 24]).mul(0.25), 50), g.scalar(-3.4e38)).softmax(-1) });
      })(),
      logSumExp: (() => {
        const g = new GraphBuilder();
        return g.build({ out: g.input("gate", "float32", ["rows", 24]).logSumExp(-1) });
      })(),
    };
    const random = new Random(2);
    const values = (n: number, scale: number) => Array.from({ length: n }, () => (random.uniform() - 0.5) * scale);
    const inputs = { gate: HostTensor.float32([7, 24], values(168, 120)), up: HostTensor.float32([7, 24], values(168, 4)), weight: HostTensor.float32([24], values(24, 1)) };
    const launches: Record<string, [number, number]> = {};
    for (const [name, graph] of Object.entries(graphs)) {
      const given = Object.fromEntries([...graph.inputs.keys()].map((input) => [input, inputs[input as keyof typeof inputs]]));
      const [one, many] = (await Promise.all([fused.compile(graph), unfused.compile(graph)])) as [WebGpuExecutable, WebGpuExecutable];
      const [a, c] = [await one.run(given), await many.run(given)];
      expect(maxRelativeDifference(a.out!.data as Float32Array, c.out!.data as Float32Array), name).toBeLessThan(1e-6);
      launches[name] = [one.lastRunLaunches, many.lastRunLaunches];
    }
    // GeGLU: 10 elementwise ops -> 1; soft-cap: 3 -> 1; RMSNorm: the sum of x^2 (a prologue), the
    // [rows, 1] chain (scale, + eps, rsqrt), 1 + w ([24]) and the [rows, 24] products: 8 -> 4;
    // the masked, capped softmax: the compare and 5 elementwise ops become its prologue, 7 -> 1;
    // log-sum-exp: max, exp(x - max) summed (a prologue), log + max: 6 -> 3.
    expect(launches).toEqual({ geglu: [1, 10], softCap: [1, 3], rmsNorm: [4, 8], cappedSoftmax: [1, 7], logSumExp: [3, 6] });
  });

  it("attention (Gemma 2's: GQA, RoPE, scaled, soft-capped, masked) as one kernel equals the unfused graph and the reference", async () => {
    unfused ??= await WebGpuBackend.create({ gpu: nodeGpu(), fuse: false });
    const [T, d, H, K, h] = [9, 32, 4, 2, 16];
    const g = new GraphBuilder();
    const x = g.input("x", "float32", [2, "seq", d]);
    const weight = (name: string, rows: number, cols: number) => g.input(name, "float32", [rows, cols]);
    const { output } = attention(
      { numHeads: H, numKeyValueHeads: K, headDim: h, queryPreAttnScalar: h, softCap: 50 },
      { q: weight("q", H * h, d), k: weight("k", K * h, d), v: weight("v", K * h, d), o: weight("o", d, H * h) },
      { x, cos: g.input("cos", "float32", ["seq", h / 2]), sin: g.input("sin", "float32", ["seq", h / 2]), mask: g.input("mask", "bool", ["seq", "seq"]) },
    );
    const graph = g.build({ out: output });
    const random = new Random(4);
    const values = (n: number, scale: number) => Array.from({ length: n }, () => (random.uniform() - 0.5) * scale);
    const { cos, sin } = ropeTables(Array.from({ length: T }, (_, t) => t), h, 10000);
    const inputs = {
      x: HostTensor.float32([2, T, d], values(2 * T * d, 4)),
      q: HostTensor.float32([H * h, d], values(H * h * d, 3)),
      k: HostTensor.float32([K * h, d], values(K * h * d, 3)),
      v: HostTensor.float32([K * h, d], values(K * h * d, 1)),
      o: HostTensor.float32([d, H * h], values(d * H * h, 1)),
      cos,
      sin,
      // Causal with a sliding window of 4.
      mask: new HostTensor("bool", [T, T], Uint8Array.from({ length: T * T }, (_, i) => Number(i % T <= Math.floor(i / T) && Math.floor(i / T) - (i % T) < 4))),
    };
    const [one, many] = (await Promise.all([fused.compile(graph), unfused.compile(graph)])) as [WebGpuExecutable, WebGpuExecutable];
    const [a, c] = [await one.run(inputs), await many.run(inputs)];
    const exact = await (await new ReferenceBackend({ precision: "float64" }).compile(graph)).run(inputs);
    expect(maxRelativeDifference(a.out!.data as Float32Array, c.out!.data as Float32Array)).toBeLessThan(1e-5);
    expect(maxRelativeDifference(a.out!.data as Float32Array, exact.out!.data as Float32Array)).toBeLessThan(1e-5);
    // 41 launches unfused; 28 with the elementwise chains and the softmax's prologue fused; 26 with
    // the scores matmul, that softmax and the values' matmul as one attention kernel.
    expect([one.lastRunLaunches, many.lastRunLaunches]).toEqual([26, 41]);
  });

  it("Gemma 2 logits and training steps equal the unfused backend's", async () => {
    unfused ??= await WebGpuBackend.create({ gpu: nodeGpu(), fuse: false });
    const { config, params } = cappedModel();
    const ids = [Array.from({ length: 12 }, (_, t) => (t * 41 + 3) % config.vocabSize)];
    const logits = await Promise.all([fused, unfused].map((backend) => new Gemma2Model(config, params, backend, { weights: "inputs" }).forward(ids)));
    // Attention's online softmax rounds differently from the three-pass one: 3.5e-5 on this model.
    expect(maxRelativeDifference(logits[0]!.data, logits[1]!.data)).toBeLessThan(1e-4);

    const tiny = presetConfig("gemma2-tiny");
    const random = new Random(9);
    const rows = Array.from({ length: 2 }, () => Array.from({ length: 17 }, () => Math.floor(random.uniform() * tiny.vocabSize)));
    const batch = { ids: HostTensor.int64([2, 16], rows.flatMap((r) => r.slice(0, 16))), targets: HostTensor.int64([2, 16], rows.flatMap((r) => r.slice(1))), mask: HostTensor.float32([2, 16], new Float32Array(32).fill(1)) };
    const losses = await Promise.all(
      [fused, unfused].map(async (backend) => {
        const trainer = new Trainer({ config: tiny, backend, params: initParams(tiny, 1), objective: languageModeling() });
        const out: number[] = [];
        for (let step = 0; step < 3; step++) out.push((await trainer.step([batch], 3e-3)).loss);
        await trainer.dispose();
        return out;
      }),
    );
    expect(maxRelativeDifference(losses[0]!, losses[1]!)).toBeLessThan(1e-6);
  });
});
