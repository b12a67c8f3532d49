// gemma-ts against llama.cpp (node-llama-cpp 3.21.1) on a random tiny Gemma 2 exported to GGUF
// by gemma-ts: log-probabilities at every position within 2e-2 (llama.cpp's CPU GELU goes
// through an fp16 table) and the same argmax wherever the top two are clearly apart, with the
// sliding window smaller and larger than the sequence. Two deliberate mistakes must break it.
import { afterAll, describe, expect, it } from "vitest";
import { Gemma2Model, type Gemma2Config, type Gemma2Params } from "../src/index.js";
import { OnnxBackend } from "../src/node.js";
import { disposeLlamaCpp, llamaCppLogProbsForParams, logSoftmaxRows, maxLogProbDifference } from "./support/llama-cpp.js";
import { randomModel, sampleIds } from "./support/random-model.js";

const backend = new OnnxBackend({ intraOpThreads: 1 });

async function ourLogProbs(config: Gemma2Config, params: Gemma2Params, ids: number[]): Promise<Float32Array[]> {
  const model = new Gemma2Model(config, params, backend);
  const logits = await model.forward([ids]);
  await model.dispose();
  return logSoftmaxRows(logits.data, config.vocabSize);
}

function argmax(row: Float32Array): { index: number; margin: number } {
  let best = 0;
  let second = Number.NEGATIVE_INFINITY;
  for (let i = 1; i < row.length; i++) {
    if (row[i]! > row[best]!) {
      second = row[best]!;
      best = i;
    } else if (row[i]! > second) {
      second = row[i]!;
    }
  }
  return { index: best, margin: row[best]! - second };
}

afterAll(async () => {
  await disposeLlamaCpp();
});

describe("parity with llama.cpp", () => {
  for (const [label, slidingWindow, length] of [
    ["window 8 < 28 tokens", 8, 28],
    ["window 64 > 24 tokens", 64, 24],
  ] as const) {
    it(`agrees at every position, ${label}`, async () => {
      const { config, params } = randomModel({ slidingWindow });
      const ids = sampleIds(length, config.vocabSize);
      const reference = await llamaCppLogProbsForParams(config, params, ids);
      const ours = await ourLogProbs(config, params, ids);
      const difference = maxLogProbDifference(ours, reference);
      expect(difference.max, `worst at position ${difference.position}, token ${difference.token}`).toBeLessThan(2e-2);
      ours.forEach((row, position) => {
        const theirs = argmax(reference[position]!);
        if (theirs.margin > 1e-2) expect(argmax(row).index, `argmax at position ${position}`).toBe(theirs.index);
      });
    });
  }

  it("fails when the window is off by one or odd layers are made local", async () => {
    const { config, params } = randomModel({ slidingWindow: 8 });
    const ids = sampleIds(28, config.vocabSize);
    const reference = await llamaCppLogProbsForParams(config, params, ids);
    const offByOne = await ourLogProbs({ ...config, slidingWindow: 9 }, params, ids);
    const allLocal = await ourLogProbs({ ...config, layerTypes: config.layerTypes.map(() => "sliding_attention") }, params, ids);
    expect(maxLogProbDifference(offByOne, reference).max).toBeGreaterThan(0.1);
    expect(maxLogProbDifference(allLocal, reference).max).toBeGreaterThan(0.1);
  });
});
