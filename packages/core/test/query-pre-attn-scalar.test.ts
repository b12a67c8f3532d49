// query_pre_attn_scalar different from head_dim, as in Gemma 2 27B (144 against 128), which the
// llama.cpp parity test cannot check (llama.cpp scales by head_dim, or by hidden/heads for a model
// it recognises as 27B). Here the onnxruntime model is compared with the independent plain-JS
// float64 forward of support/float64-gemma2.ts (not the reference backend, which runs our own IR)
// on a two-layer capped model with head_dim 16 and query_pre_attn_scalar 24; scaling by head_dim
// instead must be caught.
import { describe, expect, it } from "vitest";
import { Gemma2Model, gemma2LayerTypes, type Gemma2Config } from "../src/index.js";
import { OnnxBackend } from "../src/node.js";
import { maxDifference } from "./support/compare.js";
import { float64Forward, fractionAbove } from "./support/float64-gemma2.js";
import { cappedModel, sampleIds } from "./support/random-model.js";

/** Logits within +-30, from pre-cap values up to ~100: float32 rounding stays near 1e-4 (6e-5 measured). */
const TOLERANCE = 1e-3;

describe("query_pre_attn_scalar != head_dim", () => {
  const { config, params } = cappedModel({ numHiddenLayers: 2, layerTypes: gemma2LayerTypes(2), queryPreAttnScalar: 24, slidingWindow: 4 });
  const ids = sampleIds(10, config.vocabSize, 5);
  const backend = new OnnxBackend({ intraOpThreads: 1 });
  const ourLogits = async (modelConfig: Gemma2Config) => {
    const model = new Gemma2Model(modelConfig, params, backend);
    const logits = await model.forward([ids]);
    await model.dispose();
    return logits.data;
  };

  it("gives the logits of an independent float64 forward, and not those of scaling by head_dim", async () => {
    expect(config.queryPreAttnScalar).not.toBe(config.headDim);
    const expected = float64Forward(config, params, ids);
    const expectedLogits = Float64Array.from(expected.logits.flatMap((row) => Array.from(row)));
    // The scale matters only if the scores are large: here about a quarter pass the attention cap.
    expect(fractionAbove(expected.preCapScores, config.attnLogitSoftcapping!)).toBeGreaterThan(0.2);

    expect(maxDifference(await ourLogits(config), expectedLogits)).toBeLessThan(TOLERANCE);
    // A model scaling by head_dim is far outside the tolerance.
    const withHeadDim = await ourLogits({ ...config, queryPreAttnScalar: config.headDim });
    expect(maxDifference(withHeadDim, expectedLogits)).toBeGreaterThan(100 * TOLERANCE);
  });
});
