// The inputs and outputs of a Gemma 2 decoder with a KV cache as Optimum exports it and
// transformers.js feeds it (docs/gemma2.md sections 5.1 and 5.2): names, dtypes and symbolic dims.
import type { Dim } from "../../graph/dims.js";
import type { Gemma2Config } from "../../models/gemma2/config.js";

/** Optimum's dim_param names; transformers.js binds batch_size and starts past_sequence_length at 0. */
export const ONNX_DIMS = {
  batch: "batch_size",
  sequence: "sequence_length",
  past: "past_sequence_length",
  total: "past_sequence_length + sequence_length",
} as const;

export interface Gemma2OnnxSignature {
  inputs: { name: string; dtype: "int64" | "float32"; dims: Dim[] }[];
  outputs: { name: string; dtype: "float32"; dims: Dim[] }[];
}

/** The names, dtypes and dims of the exported model's inputs and outputs, in order. */
export function gemma2OnnxSignature(config: Gemma2Config): Gemma2OnnxSignature {
  const { batch, sequence, past, total } = ONNX_DIMS;
  const K = config.numKeyValueHeads;
  const h = config.headDim;
  const layers = Array.from({ length: config.numHiddenLayers }, (_, i) => i);
  const cache = (prefix: string, length: string) =>
    layers.flatMap((i) => (["key", "value"] as const).map((part) => ({ name: `${prefix}.${i}.${part}`, dtype: "float32" as const, dims: [batch, K, length, h] })));
  return {
    inputs: [
      { name: "input_ids", dtype: "int64", dims: [batch, sequence] },
      { name: "attention_mask", dtype: "int64", dims: [batch, total] },
      { name: "position_ids", dtype: "int64", dims: [batch, sequence] },
      ...cache("past_key_values", past),
    ],
    outputs: [{ name: "logits", dtype: "float32", dims: [batch, sequence, config.vocabSize] }, ...cache("present", total)],
  };
}
