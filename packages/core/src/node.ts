// @gemma-ts/core/node: file IO (Hugging Face folders, safetensors, GGUF) and the onnxruntime-node
// backend. Node only.
export { atomicWrite, atomicWriteFile } from "./io/atomic-write.js";
export {
  encodeSafetensorsHeader,
  MAX_HEADER_BYTES,
  parseSafetensorsHeader,
  type HeaderEntry,
  type SafetensorsLayout,
  type SafetensorsTensorInfo,
} from "./io/safetensors-format.js";
export {
  readSafetensors,
  SafetensorsReader,
  storedByteSize,
  writeSafetensors,
  type SafetensorsReadOptions,
  type StorageFloatDType,
  type WriteSafetensorsOptions,
} from "./io/safetensors.js";
export { INDEX_FILE, planShards, shardFileName, SINGLE_FILE } from "./io/hf-shards.js";
export { loadHfCheckpoint, saveHfCheckpoint, type HfCheckpoint, type SaveHfCheckpointOptions } from "./io/hf-folder.js";
export { CONFIG_FILE, readHfConfig } from "./io/hf-config.js";
export { readJsonFile } from "./io/json-file.js";
export { readGguf, readGgufConfig, readGgufQuantized, writeGguf, type GgufConfig, type GgufDType, type GgufModel, type GgufQuantizedModel, type GgufWriteOptions } from "./io/gguf.js";
export { decodeGgufHeader, encodeGgufHeader, GGML_TYPE_NAMES, type GgufEntry, type GgufHeader, type GgufTensorInfo, type GgufValue } from "./io/gguf-format.js";
export { configFromGgufMetadata, ggufTensorName } from "./io/gguf-gemma2.js";
export { synthesizeVocabulary, TOKEN_TYPES, type GgufVocabulary } from "./io/gguf-vocabulary.js";
export { dequantizeQ8_0, quantizeQ8_0, unpackQ8_0Into } from "./io/q8-0.js";
export { dequantizeQ4_0, packQ4_0, quantizeQ4_0, unpackQ4_0Into } from "./io/q4-0.js";
export { graphToOnnx, type OnnxEmitOptions } from "./backend/onnx/emit.js";
export { OnnxBackend, OnnxExecutable, type OnnxBackendOptions } from "./backend/onnx/onnx-backend.js";
export { exportOnnxFolder, ONNX_DATA_FILE, ONNX_MODEL_FILE, type ExportOnnxFolderOptions, type ExportOnnxFolderResult } from "./io/onnx-export/export-folder.js";
export { gemma2ExportGraph, gemma2OnnxModel, GEMMA2_ONNX_OPSET, MAX_ONNX_WEIGHT_BYTES, ONNX_DATA_FILE_NAME, onnxWeightBytes } from "./io/onnx-export/export-graph.js";
export { gemma2OnnxSignature, ONNX_DIMS, type Gemma2OnnxSignature } from "./io/onnx-export/optimum-signature.js";
export { OnnxFolderModel, type OnnxFolderModelOptions } from "./io/onnx-export/onnx-folder-model.js";
export type { TokenizerFiles } from "./io/onnx-export/tokenizer-files.js";
export { loadTrainingState, OPTIMIZER_FILE, saveTrainingState, TRAINER_STATE_FILE, type TrainingState } from "./io/training-state.js";
export { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadLoraAdapter, saveLoraAdapter } from "./lora/peft-adapter.js";
