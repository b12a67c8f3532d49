// Weight-only block quantization (q8 = llama.cpp's Q8_0, q4 = Q4_0): the quantizer byte for byte
// against ggml's Q8_0 reference port and within its rounding bounds; a quantized Gemma 2 on
// onnxruntime (MatMulNBits, int8 activations as llama.cpp) against the exact float64 reference;
// and greedy decoding of a briefly trained model, quantized, against float32 on 20 prompts.
import { beforeAll, describe, expect, it } from "vitest";
import {
  dequantizeMatrix,
  Gemma2Model,
  HostTensor,
  KVCache,
  presetConfig,
  quantizeMatrix,
  ReferenceBackend,
  Random,
  type Gemma2Params,
} from "../src/index.js";
import { dequantizeQ8_0, OnnxBackend, quantizeQ8_0 } from "../src/node.js";
import { randomModel, sampleIds } from "./support/random-model.js";
import { sotuTokens } from "./support/sotu-tokens.js";
import { trainedParams } from "./support/trained-model.js";

function randomMatrix(rows: number, cols: number, seed: number): HostTensor<"float32"> {
  const random = new Random(seed);
  // Heavy-tailed, with a few blocks all zero and a few with one outlier: the quantizers' edge cases.
  return HostTensor.float32([rows, cols], Array.from({ length: rows * cols }, (_, i) => (Math.floor(i / 32) % 7 === 3 ? 0 : random.normal() ** 3 * (i % 97 === 5 ? 40 : 1))));
}

describe("block quantization", () => {
  it("q8 equals ggml's Q8_0 codes and scales", () => {
    const weight = randomMatrix(16, 128, 1);
    const matrix = quantizeMatrix(weight, 8);
    const ggml = new Uint8Array((weight.size / 32) * 34);
    quantizeQ8_0(weight.data, ggml);
    const ggmlValues = new Float32Array(weight.size);
    dequantizeQ8_0(ggml, ggmlValues);
    expect(Array.from(dequantizeMatrix(matrix).data)).toEqual(Array.from(ggmlValues));
  });

  // The codes are computed with the float32 step and stored with its float16 rounding (as ggml
  // does), which moves the largest code by up to 127 (q8) or 8 (q4) float16 ulps of the step.
  it("dequantizes within half a step (q8) and one step (q4) of the weight, plus the float16 rounding of the step", () => {
    const weight = randomMatrix(8, 256, 2);
    for (const bits of [8, 4] as const) {
      const matrix = quantizeMatrix(weight, bits);
      const restored = dequantizeMatrix(matrix).data;
      let worstRatio = 0;
      for (let i = 0; i < weight.size; i++) {
        const step = Math.abs(matrix.scales.data[Math.floor(i / 32)]!);
        const error = Math.abs(restored[i]! - weight.data[i]!);
        if (step > 0) worstRatio = Math.max(worstRatio, error / step);
        else expect(error).toBe(0);
      }
      expect(worstRatio).toBeLessThanOrEqual(bits === 8 ? 0.5 + 127 * 2 ** -11 : 1 + 8 * 2 ** -11);
      expect(worstRatio).toBeGreaterThan(bits === 8 ? 0.4 : 0.45); // the bound is reached, so the check means something
    }
  });
});

describe("a quantized Gemma 2", () => {
  const { config, params } = randomModel({ slidingWindow: 8 });
  const ids = [sampleIds(12, config.vocabSize, 3), sampleIds(12, config.vocabSize, 4)];

  it("gives the exact float64 reference's logits on onnxruntime, up to its int8 activations", async () => {
    const full = await new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 })).forward(ids);
    const scale = full.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const errors: Record<string, number> = {};
    for (const quantize of ["q8", "q4"] as const) {
      const fast = await new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }), { quantize }).forward(ids);
      const exact = await new Gemma2Model(config, params, new ReferenceBackend(), { quantize }).forward(ids);
      let kernel = 0;
      let quantization = 0;
      for (let i = 0; i < fast.size; i++) {
        kernel = Math.max(kernel, Math.abs(fast.data[i]! - exact.data[i]!));
        quantization = Math.max(quantization, Math.abs(exact.data[i]! - full.data[i]!));
      }
      expect(kernel / scale, `${quantize}: onnxruntime vs reference`).toBeLessThan(0.05);
      errors[quantize] = quantization / scale;
    }
    expect(errors.q8!).toBeLessThan(0.05);
    expect(errors.q4!).toBeLessThan(0.6);
    expect(errors.q4!).toBeGreaterThan(2 * errors.q8!); // 4 bits cost more than 8: the weights really are quantized
  });

  it("keeps the prompt-then-decode path exact: cached decode equals the full forward", async () => {
    const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }), { quantize: "q4" });
    const sequence = ids[0]!;
    const full = await model.forward([sequence]);
    const cache = new KVCache(config, { capacity: 16 });
    await model.forward([sequence.slice(0, 8)], cache);
    for (let t = 8; t < sequence.length; t++) {
      const step = await model.forward([[sequence[t]!]], cache);
      const row = full.data.subarray(t * config.vocabSize, (t + 1) * config.vocabSize);
      let worst = 0;
      for (let i = 0; i < row.length; i++) worst = Math.max(worst, Math.abs(step.data[i]! - row[i]!));
      expect(worst, `position ${t}`).toBeLessThan(1e-4);
    }
  });
});

describe("greedy decoding of a trained model, quantized", () => {
  const config = presetConfig("gemma2-1m");
  let params: Gemma2Params;
  let prompts: number[][];

  beforeAll(async () => {
    const tokens = await sotuTokens(config.vocabSize);
    params = await trainedParams(config, tokens.train, { steps: 600, seed: 5 });
    prompts = Array.from({ length: 20 }, (_, i) => [2, ...tokens.heldOut.slice(i * 500, i * 500 + 12)]);
  }, 300_000);

  async function greedy(model: Gemma2Model, prompt: number[]): Promise<number[]> {
    const cache = new KVCache(config, { capacity: 32 });
    let logits = await model.forward([prompt], cache);
    const out: number[] = [];
    for (let i = 0; i < 8; i++) {
      const row = logits.data.subarray(logits.size - config.vocabSize);
      let best = 0;
      for (let v = 1; v < row.length; v++) if (row[v]! > row[best]!) best = v;
      out.push(best);
      logits = await model.forward([[best]], cache);
    }
    return out;
  }

  it("q8 and q4 continue most of 20 prompts exactly as float32", async () => {
    const backend = new OnnxBackend({ intraOpThreads: 2 });
    const reference = new Gemma2Model(config, params, backend);
    const expected = await Promise.all(prompts.map((prompt) => greedy(reference, prompt)));
    // Continuations that differ between prompts: agreement means more than repeating one frequent word.
    expect(new Set(expected.map((tokens) => tokens.join())).size).toBeGreaterThanOrEqual(10);
    for (const [quantize, atLeast] of [["q8", 16], ["q4", 11]] as const) {
      const model = new Gemma2Model(config, params, backend, { quantize });
      let same = 0;
      for (const [i, prompt] of prompts.entries()) if ((await greedy(model, prompt)).join() === expected[i]!.join()) same++;
      console.log(`${quantize}: ${same}/20 greedy continuations identical to float32 (${new Set(expected.map((t) => t.join())).size} distinct)`);
      expect(same, quantize).toBeGreaterThanOrEqual(atLeast);
      await model.dispose();
    }
  }, 120_000);
});
