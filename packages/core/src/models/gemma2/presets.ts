// Named configurations: the three released Gemma 2 sizes, and small ones that train on two CPU
// cores. The small ones use an 8,000-token vocabulary (trainBpe from @gemma-ts/tokenizer on the
// State of the Union corpus) and keep Gemma 2's shape rules: GQA, alternating windows, caps.
import { InvalidArgumentError } from "../../errors.js";
import { gemma2LayerTypes, type Gemma2Config } from "./config.js";

type Shape = Pick<
  Gemma2Config,
  | "vocabSize"
  | "hiddenSize"
  | "intermediateSize"
  | "numHiddenLayers"
  | "numAttentionHeads"
  | "numKeyValueHeads"
  | "headDim"
  | "queryPreAttnScalar"
  | "slidingWindow"
  | "maxPositionEmbeddings"
>;

function gemma2(shape: Shape): Gemma2Config {
  return {
    ...shape,
    attnLogitSoftcapping: 50,
    finalLogitSoftcapping: 30,
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    layerTypes: gemma2LayerTypes(shape.numHiddenLayers),
    bosTokenId: 2,
    eosTokenId: 1,
    padTokenId: 0,
    initializerRange: 0.02,
  };
}

const released = { vocabSize: 256000, slidingWindow: 4096, maxPositionEmbeddings: 8192 };

export const PRESETS = {
  "gemma2-2b": gemma2({ ...released, hiddenSize: 2304, intermediateSize: 9216, numHiddenLayers: 26, numAttentionHeads: 8, numKeyValueHeads: 4, headDim: 256, queryPreAttnScalar: 256 }),
  "gemma2-9b": gemma2({ ...released, hiddenSize: 3584, intermediateSize: 14336, numHiddenLayers: 42, numAttentionHeads: 16, numKeyValueHeads: 8, headDim: 256, queryPreAttnScalar: 256 }),
  "gemma2-27b": gemma2({ ...released, hiddenSize: 4608, intermediateSize: 36864, numHiddenLayers: 46, numAttentionHeads: 32, numKeyValueHeads: 16, headDim: 128, queryPreAttnScalar: 144 }),
  /** The shape of the llama.cpp parity test: small enough to check every position. */
  "gemma2-tiny": gemma2({ vocabSize: 512, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 4, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16, queryPreAttnScalar: 16, slidingWindow: 8, maxPositionEmbeddings: 256 }),
  "gemma2-1m": gemma2({ vocabSize: 8000, hiddenSize: 64, intermediateSize: 384, numHiddenLayers: 6, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16, queryPreAttnScalar: 16, slidingWindow: 64, maxPositionEmbeddings: 512 }),
  /** The second student size of `gemma-ts experiment distill`, between the 1m student and the 7m teacher. */
  "gemma2-3m": gemma2({ vocabSize: 8000, hiddenSize: 128, intermediateSize: 768, numHiddenLayers: 6, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 32, queryPreAttnScalar: 32, slidingWindow: 64, maxPositionEmbeddings: 512 }),
  "gemma2-7m": gemma2({ vocabSize: 8000, hiddenSize: 256, intermediateSize: 768, numHiddenLayers: 6, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 64, queryPreAttnScalar: 64, slidingWindow: 128, maxPositionEmbeddings: 1024 }),
  "gemma2-25m": gemma2({ vocabSize: 8000, hiddenSize: 512, intermediateSize: 1536, numHiddenLayers: 7, numAttentionHeads: 8, numKeyValueHeads: 4, headDim: 64, queryPreAttnScalar: 64, slidingWindow: 256, maxPositionEmbeddings: 2048 }),
} as const satisfies Record<string, Gemma2Config>;

export type PresetName = keyof typeof PRESETS;

export function presetConfig(name: string): Gemma2Config {
  if (!Object.hasOwn(PRESETS, name)) {
    throw new InvalidArgumentError("preset", `unknown preset '${name}'; known: ${Object.keys(PRESETS).join(", ")}`);
  }
  return structuredClone(PRESETS[name as PresetName]) as Gemma2Config;
}
