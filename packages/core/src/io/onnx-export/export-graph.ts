// The Gemma 2 decoder in Optimum's decoder-with-past signature (optimum-signature.ts), traced from
// the runtime's own gemma2Forward: weights as constants, RoPE tables computed from position_ids
// and the causal / sliding-window / padding masks from attention_mask in the graph, the present
// keys and values the past followed by the new ones. emit.ts turns it into the ONNX model.
import type { ExternalData } from "../../backend/onnx/external-data.js";
import { graphToOnnx, graphToOnnxWithExternalData } from "../../backend/onnx/emit.js";
import { ConfigMismatchError, InvalidArgumentError, ShapeMismatchError } from "../../errors.js";
import { GraphBuilder, type SymbolicTensor } from "../../graph/builder.js";
import { dimEquals, showDims } from "../../graph/dims.js";
import type { Graph } from "../../graph/graph.js";
import type { Gemma2Config } from "../../models/gemma2/config.js";
import { gemma2Forward } from "../../models/gemma2/forward.js";
import { slotMasks } from "../../models/gemma2/masks.js";
import { parameterSpecs, type Gemma2Params } from "../../models/gemma2/params.js";
import { ropeTablesFromPositions } from "../../nn/rope.js";
import type { HostTensor } from "../../tensor/host-tensor.js";
import { gemma2OnnxSignature, ONNX_DIMS } from "./optimum-signature.js";

/** Opset 17, the oldest emit.ts writes: what Optimum's Gemma 2 exports use, and transformers.js's onnxruntime-web runs. */
export const GEMMA2_ONNX_OPSET = 17;

/**
 * A protobuf message cannot exceed 2 GiB, and the weights are initializers inside it. Kept a little
 * under the hard limit for the graph itself (names, value infos, small constants).
 */
export const MAX_ONNX_WEIGHT_BYTES = 2 ** 31 - 1 - 16 * 2 ** 20;

/** Optimum's name for the external data file, beside model.onnx. */
export const ONNX_DATA_FILE_NAME = "model.onnx_data";

/** Bytes of float32 weights for this config. */
export function onnxWeightBytes(config: Gemma2Config): number {
  return parameterSpecs(config).reduce((total, spec) => total + 4 * spec.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * The export as an IR graph: inputs and outputs exactly those of gemma2OnnxSignature, in its
 * order, with its dim names. Refuses (ConfigMismatchError) missing, misshapen or unknown weights;
 * weights stored in another float dtype become float32.
 */
export function gemma2ExportGraph(config: Gemma2Config, params: Gemma2Params): Graph {
  const weights = float32Weights(config, params);
  const signature = gemma2OnnxSignature(config);
  const b = new GraphBuilder();
  const inputs = new Map(signature.inputs.map((input) => [input.name, b.input(input.name, input.dtype, input.dims)]));
  const input = (name: string): SymbolicTensor => inputs.get(name)!;

  const { cos, sin } = ropeTablesFromPositions(input("position_ids"), config.headDim, config.ropeTheta);
  const masks = slotMasks(input("attention_mask"), ONNX_DIMS.sequence, config.slidingWindow);
  const past = config.layerTypes.map((_, i) => ({ keys: input(`past_key_values.${i}.key`), values: input(`past_key_values.${i}.value`) }));
  const constants = new Map([...weights].map(([name, tensor]) => [name, b.constant(tensor)]));
  const out = gemma2Forward(config, (name) => constants.get(name)!, { ids: input("input_ids"), cos, sin, masks, past });

  const traced = new Map<string, SymbolicTensor>([["logits", out.logits]]);
  out.allKeys.forEach((keys, i) => traced.set(`present.${i}.key`, keys));
  out.allValues.forEach((values, i) => traced.set(`present.${i}.value`, values));
  const outputs: Record<string, SymbolicTensor> = {};
  for (const { name, dims } of signature.outputs) {
    const tensor = traced.get(name)!;
    // The signature is the contract with transformers.js; a drift in the forward pass must not change it silently.
    if (tensor.rank !== dims.length || tensor.shape.some((d, axis) => !dimEquals(d, dims[axis]!))) {
      throw new ShapeMismatchError(`output '${name}'`, `traced as ${showDims(tensor.shape)}, the signature says ${showDims(dims)}`);
    }
    outputs[name] = tensor;
  }
  return b.build(outputs);
}

/**
 * Encodes the model (opset 17), weights as initializers: inside the protobuf, or with
 * `externalData` in a data file named ONNX_DATA_FILE_NAME (required past MAX_ONNX_WEIGHT_BYTES,
 * as Optimum does).
 */
export function gemma2OnnxModel(config: Gemma2Config, params: Gemma2Params, options: { externalData?: boolean } = {}): { model: Uint8Array; external: ExternalData | undefined } {
  const bytes = onnxWeightBytes(config);
  if (!options.externalData && bytes > MAX_ONNX_WEIGHT_BYTES) {
    throw new InvalidArgumentError("config", `${bytes} bytes of float32 weights exceed the 2 GiB that one ONNX protobuf can hold; export with external data`);
  }
  const graph = gemma2ExportGraph(config, params);
  const emit = { opset: GEMMA2_ONNX_OPSET, name: "gemma2" };
  if (!options.externalData) return { model: graphToOnnx(graph, emit), external: undefined };
  return graphToOnnxWithExternalData(graph, { minBytes: 1024, location: ONNX_DATA_FILE_NAME }, emit);
}

/** The params by name, every one the config needs, shaped as it says, as float32. */
function float32Weights(config: Gemma2Config, params: Gemma2Params): Map<string, HostTensor<"float32">> {
  const specs = parameterSpecs(config);
  const known = new Set(specs.map((spec) => spec.name));
  for (const name of params.keys()) {
    if (!known.has(name)) throw new ConfigMismatchError(name, "is not a parameter of this config; refusing to drop it silently");
  }
  const weights = new Map<string, HostTensor<"float32">>();
  for (const spec of specs) {
    const tensor = params.get(spec.name);
    if (!tensor) throw new ConfigMismatchError(spec.name, "missing from the parameters being exported");
    if (tensor.shape.length !== spec.shape.length || tensor.shape.some((d, i) => d !== spec.shape[i])) {
      throw new ConfigMismatchError(spec.name, `expected shape [${spec.shape.join(", ")}], got [${tensor.shape.join(", ")}]`);
    }
    weights.set(spec.name, tensor.toFloat32());
  }
  return weights;
}
