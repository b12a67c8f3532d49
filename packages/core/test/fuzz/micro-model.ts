// The smallest Gemma 2 the loaders accept, for fuzzing: a few KiB of weights, so most mutations
// land in headers rather than in tensor data, and each case writes and reads its file in
// milliseconds. Its sizes still exercise every rule (GQA, whole Q8_0 / Q4_0 blocks, norms).
import { gemma2LayerTypes, type Gemma2Config, type Gemma2Params } from "../../src/index.js";
import { randomModel } from "../support/random-model.js";

export function microModel(): { config: Gemma2Config; params: Gemma2Params } {
  return randomModel({
    vocabSize: 64,
    hiddenSize: 32,
    intermediateSize: 32,
    numHiddenLayers: 2,
    numAttentionHeads: 2,
    numKeyValueHeads: 1,
    headDim: 16,
    queryPreAttnScalar: 16,
    slidingWindow: 8,
    maxPositionEmbeddings: 64,
    layerTypes: gemma2LayerTypes(2),
  });
}
