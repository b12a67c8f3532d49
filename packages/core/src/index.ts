// @gemma-ts/core: tensors, the graph IR and its backends, the Gemma 2 model, training
// primitives. Browser-safe; file IO and onnxruntime-node are in "./node".
export { HostTensor, hostView, sizeOf, type Shape } from "./tensor/host-tensor.js";
export { BYTES_PER_ELEMENT, allocate, type AnyTypedArray, type DType, type TypedArrayFor } from "./tensor/dtype.js";
export { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from "./tensor/half.js";
export { Random } from "./tensor/random.js";
export type { BinaryOpName, CompareOpName, Op, OpKind, ReduceOpName, UnaryOpName } from "./graph/ops.js";
export { describeGraph, type Graph, type Node } from "./graph/graph.js";
export { GraphBuilder, SymbolicTensor, type Operand } from "./graph/builder.js";
export type { Backend, BackendTensor, Executable, RunInput, TensorMap } from "./backend/backend.js";
export {
  bindDims,
  dim,
  dimAdd,
  dimDivide,
  dimEquals,
  dimMul,
  dimProduct,
  dimSub,
  evaluateDims,
  showDims,
  type Dim,
  type DimBindings,
  type Dims,
} from "./graph/dims.js";
export {
  ReferenceBackend,
  ReferenceExecutable,
  runFloat64,
  type Float64Inputs,
  type Float64Outputs,
  type ReferenceBackendOptions,
} from "./backend/reference/reference-backend.js";
export type { Float64Tensor, Precision } from "./backend/reference/value.js";
export { gradients, type GradientOptions } from "./autodiff/backward.js";
export { configFromHf, configToHf, gemma2LayerTypes, type Gemma2Config, type LayerKind } from "./models/gemma2/config.js";
export { PRESETS, presetConfig, type PresetName } from "./models/gemma2/presets.js";
export { forEachParameter, isQuantizable, parameterCount, parameterSpecs, type Gemma2Params, type ParameterKind, type ParameterSpec } from "./models/gemma2/params.js";
export { initParams } from "./models/gemma2/init.js";
export { gemma2Forward, type Gemma2ForwardInputs, type Gemma2ForwardOutputs, type WeightSource } from "./models/gemma2/forward.js";
export type { CausalLM } from "./models/causal-lm.js";
export { CONSTANT_WEIGHTS_MAX_BYTES, Gemma2Model, type Gemma2ModelOptions } from "./models/gemma2/model.js";
export { KVCache } from "./models/gemma2/kv-cache.js";
export { attentionMask } from "./models/gemma2/masks.js";
export { applyRope, ropeTables } from "./nn/rope.js";
export { geluTanh, linear, rmsNorm, softCap } from "./nn/layers.js";
export {
  bradleyTerryLoss,
  crossEntropy,
  denseDistillationLoss,
  generalizedJsdLoss,
  maskedMean,
  nextTokenLoss,
  policyGradientLoss,
  softplus,
  sparseDistillationLoss,
  tokenLogprobs,
  type MissingMass,
  type SparseTeacher,
} from "./nn/losses.js";
export { isLora, type LoraWeight } from "./nn/lora.js";
export { dequantizeBlocks, dequantizeWeight, gatherRows, isQuantized, type QuantizedWeight, type Weight } from "./nn/quantized.js";
export {
  dequantizeMatrix,
  QUANT_BITS,
  QUANT_BLOCK,
  emptyQuantizedMatrix,
  quantizeBlocksInto,
  quantizedBytes,
  quantizeMatrix,
  type QuantBits,
  type QuantizedMatrix,
  type QuantType,
} from "./quant/blocks.js";
export { AdamW, type AdamWOptions, type AdamWState, type Optimizer } from "./optim/adamw.js";
export { warmupCosine, type WarmupCosineOptions } from "./optim/schedules.js";
export {
  denseDistillationWithLabels,
  distillationWithLabels,
  languageModeling,
  onPolicyDistillation,
  policyGradient,
  preferencePairs,
  rewardModeling,
  rewards,
  sparseDistillation,
  VALUE_HEAD,
  type BatchInputSpec,
  type ExtraParameterSpec,
  type Objective,
} from "./train/objective.js";
export { traceTrainGraph, type TrainGraphOptions } from "./train/train-graph.js";
export { Trainer, type OptimizerMoments, type TrainBatch, type TrainerOptions, type TrainerState } from "./train/trainer.js";
export { languageModelBatch, tokenBatch, type TokenBatchOptions } from "./train/token-batches.js";
export { train, type TrainOptions, type TrainRecord } from "./train/loop.js";
export { initLora, LORA_MODULES, loraConfig, loraTargets, mergeLora, type LoraConfig, type LoraModule, type LoraTarget } from "./lora/lora-config.js";
export { applyPenalties, applyTemperatureAndTruncation, softmax, topIndices, type SamplingOptions } from "./generate/logits-processors.js";
export { argmax, Sampler, type SampledToken } from "./generate/sampler.js";
export { generate, type GenerateOptions, type GeneratedToken } from "./generate/generate.js";
export { Sequence, type FinishReason, type SequenceRequest, type SequenceStep, type TokenConstraint } from "./generate/sequence.js";
export { BatchDecoder, type RowStep } from "./generate/batch-decoder.js";
export { generateBatch, type GenerateBatchOptions, type GenerateBatchRequest, type GenerateBatchResult } from "./generate/generate-batch.js";
export { attention, type AttentionInputs, type AttentionOutputs, type AttentionShape, type AttentionWeights } from "./nn/attention.js";
export {
  BackendError,
  ConfigMismatchError,
  CoreError,
  InvalidArgumentError,
  InvalidConfigError,
  LimitExceededError,
  MalformedCheckpointError,
  ShapeMismatchError,
  UnsupportedDTypeError,
  type CoreErrorCode,
} from "./errors.js";
export { checkLimit, LOADER_LIMITS, type LoaderLimit, type LoaderLimitName } from "./io/limits.js";
export { checkpointFromBytes, type SafetensorsBytes } from "./io/hf-bytes.js";
