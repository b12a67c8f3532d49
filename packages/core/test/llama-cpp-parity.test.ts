// gemma-ts against llama.cpp (node-llama-cpp 3.21.1) on a random tiny Gemma 2 exported to GGUF
// by gemma-ts, its weights scaled (cappedModel) so that a third of the attention scores pass the
// attention soft-cap, a fifth of the logits pass the final soft-cap, and the MLP gates sit where
// the tanh and erf GELUs differ: log-probabilities at every position within 2e-2 (llama.cpp's CPU
// GELU goes through an fp16 table), the same argmax wherever the top two are clearly apart, with the
// sliding window smaller and larger than the sequence. The independent float64 forward of
// support/float64-gemma2.ts must agree too. Six deliberate mistakes must each break it: no
// attention cap, no final cap, the erf GELU, a wrong query_pre_attn_scalar, the window off by
// one, odd layers made local.
import { afterAll, describe, expect, it } from "vitest";
import { Gemma2Model, type Gemma2Config, type Gemma2Params } from "../src/index.js";
import { OnnxBackend } from "../src/node.js";
import { float64Forward, fractionAbove, logSoftmax64 } from "./support/float64-gemma2.js";
import { disposeLlamaCpp, llamaCppLogProbsForParams, logSoftmaxRows, maxLogProbDifference } from "./support/llama-cpp.js";
import { cappedModel, sampleIds } from "./support/random-model.js";

const TOLERANCE = 2e-2;
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

/** The parity model of one case and llama.cpp's log-probabilities on it, computed once per window. */
const cases = new Map<number, Promise<{ config: Gemma2Config; params: Gemma2Params; ids: number[]; reference: Float32Array[] }>>();
function parityCase(slidingWindow: number, length: number) {
  let entry = cases.get(slidingWindow);
  if (!entry) {
    const { config, params } = cappedModel({ slidingWindow });
    const ids = sampleIds(length, config.vocabSize);
    entry = llamaCppLogProbsForParams(config, params, ids).then((reference) => ({ config, params, ids, reference }));
    cases.set(slidingWindow, entry);
  }
  return entry;
}

afterAll(async () => {
  await disposeLlamaCpp();
});

describe("parity with llama.cpp", () => {
  for (const [label, slidingWindow, length] of [
    ["window 8 < 28 tokens", 8, 28],
    ["window 64 > 24 tokens", 64, 24],
  ] as const) {
    it(`agrees at every position, with the soft-caps reached, ${label}`, async () => {
      const { config, params, ids, reference } = await parityCase(slidingWindow, length);
      // The caps must matter: measured on the float64 pass, before capping.
      const float64 = float64Forward(config, params, ids);
      expect(fractionAbove(float64.preCapScores, config.attnLogitSoftcapping!), "share of attention scores past the cap").toBeGreaterThan(0.25);
      // (A tenth of 512 logits is 51 tokens per position past the cap; far more would squeeze the top ones together.)
      expect(fractionAbove(float64.preCapLogits.flatMap((row) => Array.from(row)), config.finalLogitSoftcapping!), "share of logits past the cap").toBeGreaterThan(0.1);

      const ours = await ourLogProbs(config, params, ids);
      const difference = maxLogProbDifference(ours, reference);
      expect(difference.max, `worst at position ${difference.position}, token ${difference.token}`).toBeLessThan(TOLERANCE);
      // Attention, not the current token, picks the top token at most positions (so this check
      // fails for the attention mistakes below), and the margins are wide enough to check nearly all.
      let checked = 0;
      ours.forEach((row, position) => {
        const theirs = argmax(reference[position]!);
        if (theirs.margin <= 1e-2) return;
        checked++;
        expect(argmax(row).index, `argmax at position ${position}`).toBe(theirs.index);
      });
      expect(checked).toBeGreaterThan(length / 2);
      expect(reference.filter((row, position) => argmax(row).index === ids[position]).length, "positions whose top token is the current one").toBeLessThan(length / 2);
      // The plain-JS float64 forward (which the GELU mistake below swaps into) agrees as well.
      expect(maxLogProbDifference(logSoftmax64(float64.logits), reference).max).toBeLessThan(TOLERANCE);
    });
  }

  it("fails with each of six mistakes", async () => {
    const { config, params, ids, reference } = await parityCase(8, 28);
    const mistakes: Record<string, Float32Array[]> = {
      "no attention soft-cap": await ourLogProbs({ ...config, attnLogitSoftcapping: null }, params, ids),
      "no final soft-cap": await ourLogProbs({ ...config, finalLogitSoftcapping: null }, params, ids),
      "erf GELU (float64 forward)": logSoftmax64(float64Forward(config, params, ids, { activation: "erf" }).logits),
      // 18/16 is the 27B's 144/128: what using head_dim for query_pre_attn_scalar gets wrong there.
      "query_pre_attn_scalar 18 instead of 16": await ourLogProbs({ ...config, queryPreAttnScalar: 18 }, params, ids),
      "window off by one": await ourLogProbs({ ...config, slidingWindow: 9 }, params, ids),
      "odd layers local": await ourLogProbs({ ...config, layerTypes: config.layerTypes.map(() => "sliding_attention") }, params, ids),
    };
    for (const [mistake, logProbs] of Object.entries(mistakes)) {
      expect(maxLogProbDifference(logProbs, reference).max, mistake).toBeGreaterThan(5 * TOLERANCE);
    }
  });
});
