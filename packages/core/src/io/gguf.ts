// Gemma 2 to and from llama.cpp's GGUF v3 ("gemma2" architecture). The writer streams tensor by
// tensor into an atomically replaced file; the reader parses the header, then reads each tensor at
// its offset in bounded chunks, dequantising F16 / Q8_0 / Q4_0 to float32 (readGguf), or keeping
// Q8_0 / Q4_0 matrices as the QuantizedMatrix they are (readGgufQuantized). Norms are stored as
// 1 + w and read back as w. Facts: docs/gemma2.md section 4; layout rules in gguf-format.ts /
// gguf-gemma2.ts.
import { open, type FileHandle } from "node:fs/promises";
import { ConfigMismatchError, InvalidArgumentError, MalformedCheckpointError, UnsupportedDTypeError } from "../errors.js";
import type { Gemma2Config } from "../models/gemma2/config.js";
import { isQuantizable, parameterSpecs, type Gemma2Params } from "../models/gemma2/params.js";
import { emptyQuantizedMatrix, QUANT_BLOCK, type QuantBits, type QuantizedMatrix } from "../quant/blocks.js";
import { HostTensor, sizeOf } from "../tensor/host-tensor.js";
import { atomicWrite } from "./atomic-write.js";
import { readExactly, writeAll } from "./file-handle-io.js";
import {
  alignUp,
  checkTensorSpans,
  decodeGgufHeader,
  encodeGgufHeader,
  GGML_F16,
  GGML_F32,
  GGML_Q4_0,
  GGML_Q8_0,
  ggmlBlockSize,
  ggmlByteSize,
  ggmlTypeName,
  GGUF_DEFAULT_ALIGNMENT,
  isSupportedGgmlType,
  NeedMoreBytes,
  type GgufEntry,
  type GgufHeader,
  type GgufTensorInfo,
  type GgufValue,
  type SupportedGgmlType,
} from "./gguf-format.js";
import { architectureEntries, configFromGgufMetadata, ggufDims, ggufTensorName, storedWithUnitOffset } from "./gguf-gemma2.js";
import { decodeTensorData, encodeTensorData } from "./gguf-tensor-data.js";
import { synthesizeVocabulary, vocabularyEntries, type GgufVocabulary } from "./gguf-vocabulary.js";
import { unpackQ4_0Into } from "./q4-0.js";
import { unpackQ8_0Into } from "./q8-0.js";
import { checkLimit, LOADER_LIMITS } from "./limits.js";

export type GgufDType = "f32" | "f16" | "q8_0" | "q4_0";

export interface GgufWriteOptions {
  /** Storage of the 2-D weights; 1-D tensors (norms) are always F32, as llama.cpp's "mostly" types keep them. */
  dtype: GgufDType;
  /** The tokenizer; without one a placeholder vocabulary is synthesised (fine for raw-id inference). */
  vocabulary?: GgufVocabulary;
  /** tokenizer.chat_template, a Jinja template. */
  chatTemplate?: string;
  /** general.name. */
  name?: string;
}

export interface GgufModel {
  config: Gemma2Config;
  params: Gemma2Params;
  /** Every metadata entry of the file, by key (64-bit integers as bigint). */
  metadata: Map<string, GgufValue>;
}

export interface GgufQuantizedModel extends GgufModel {
  /**
   * The matrices isQuantizable selects that the file stores as Q8_0 or Q4_0, block for block as
   * stored (codes and fp16 scales unchanged); `params` holds everything else, as float32. All of
   * one bit width, as Gemma2Model takes them: a file with both Q8_0 and Q4_0 matrices gives 8-bit
   * matrices, its Q4_0 blocks widened exactly (same scale, code q - 8 + 128).
   */
  quantized: Map<string, QuantizedMatrix>;
}

/** llama.cpp's LlamaFileType: ALL_F32, MOSTLY_F16, MOSTLY_Q8_0, MOSTLY_Q4_0. */
const FILE_TYPE: Readonly<Record<GgufDType, number>> = { f32: 0, f16: 1, q8_0: 7, q4_0: 2 };
const WEIGHT_TYPE: Readonly<Record<GgufDType, SupportedGgmlType>> = { f32: GGML_F32, f16: GGML_F16, q8_0: GGML_Q8_0, q4_0: GGML_Q4_0 };
/** GGML_QNT_VERSION, written by every converter. */
const QUANTIZATION_VERSION = 2;
/** Elements converted per step: whole blocks of every type, and a few tens of MiB of scratch. */
const CHUNK_ELEMENTS = 1 << 22;

interface PlannedTensor {
  info: GgufTensorInfo & { type: SupportedGgmlType };
  values: Float32Array;
  unitOffset: boolean;
  bytes: number;
}

/** Writes `params` as a llama.cpp-loadable gemma2 GGUF at `path`, replacing it atomically. */
export async function writeGguf(path: string, config: Gemma2Config, params: Gemma2Params, options: GgufWriteOptions): Promise<void> {
  const weightType = WEIGHT_TYPE[options.dtype];
  if (weightType === undefined) throw new InvalidArgumentError("dtype", `'${String(options.dtype)}'; expected f32, f16, q8_0 or q4_0`);
  const entries: GgufEntry[] = [
    { key: "general.architecture", type: "string", value: "gemma2" },
    ...(options.name === undefined ? [] : [{ key: "general.name", type: "string", value: options.name } as const]),
    { key: "general.file_type", type: "uint32", value: FILE_TYPE[options.dtype] },
    { key: "general.quantization_version", type: "uint32", value: QUANTIZATION_VERSION },
    ...architectureEntries(config),
    ...vocabularyEntries(config, options.vocabulary ?? synthesizeVocabulary(config)),
    ...(options.chatTemplate === undefined ? [] : [{ key: "tokenizer.chat_template", type: "string", value: options.chatTemplate } as const]),
  ];
  const tensors = planTensors(config, params, weightType);
  const header = encodeGgufHeader(entries, tensors.map((t) => t.info), GGUF_DEFAULT_ALIGNMENT);
  await atomicWrite(path, async (handle) => {
    await writeAll(handle, header, 0);
    for (const tensor of tensors) await writeTensor(handle, tensor, header.length);
  });
}

function planTensors(config: Gemma2Config, params: Gemma2Params, weightType: SupportedGgmlType): PlannedTensor[] {
  const specs = parameterSpecs(config);
  const known = new Set(specs.map((s) => s.name));
  for (const name of params.keys()) if (!known.has(name)) throw new ConfigMismatchError(name, "is not a parameter of this config");
  const planned: PlannedTensor[] = [];
  let offset = 0;
  for (const spec of specs) {
    const tensor = params.get(spec.name);
    if (!tensor) throw new ConfigMismatchError(spec.name, "missing");
    if (tensor.shape.length !== spec.shape.length || tensor.shape.some((d, i) => d !== spec.shape[i])) {
      throw new ConfigMismatchError(spec.name, `shape [${tensor.shape.join(", ")}], the config needs [${spec.shape.join(", ")}]`);
    }
    const dims = ggufDims(spec);
    // Like gguf-py, rows that are not whole Q8_0 / Q4_0 blocks fall back to F16 rather than failing.
    let type: SupportedGgmlType = spec.shape.length === 1 ? GGML_F32 : weightType;
    if (dims[0]! % ggmlBlockSize(type) !== 0) type = GGML_F16;
    const name = ggufTensorName(spec.name);
    const bytes = ggmlByteSize(type, sizeOf(spec.shape), name);
    planned.push({ info: { name, dims, type, offset }, values: tensor.toFloat32().data, unitOffset: storedWithUnitOffset(spec), bytes });
    offset = alignUp(offset + bytes, GGUF_DEFAULT_ALIGNMENT);
  }
  return planned;
}

async function writeTensor(handle: FileHandle, tensor: PlannedTensor, dataOffset: number): Promise<void> {
  const { values, bytes, unitOffset } = tensor;
  const { type, offset } = tensor.info;
  const start = dataOffset + offset;
  const bytesPerChunk = ggmlByteSize(type, Math.min(CHUNK_ELEMENTS, values.length), tensor.info.name);
  const scratch = new Uint8Array(bytesPerChunk);
  const shifted = unitOffset ? new Float32Array(Math.min(CHUNK_ELEMENTS, values.length)) : undefined;
  let written = 0;
  for (let first = 0; first < values.length; first += CHUNK_ELEMENTS) {
    let chunk = values.subarray(first, Math.min(first + CHUNK_ELEMENTS, values.length));
    if (shifted) {
      for (let i = 0; i < chunk.length; i++) shifted[i] = 1 + chunk[i]!; // rounded to float32, as the converter's fp32 add
      chunk = shifted.subarray(0, chunk.length);
    }
    const out = scratch.subarray(0, ggmlByteSize(type, chunk.length, tensor.info.name));
    encodeTensorData(chunk, type, out);
    await writeAll(handle, out, start + written);
    written += out.length;
  }
  // Zero padding up to the next tensor's aligned offset (and at the end of the file, as gguf-py does).
  const padding = alignUp(bytes, GGUF_DEFAULT_ALIGNMENT) - bytes;
  if (padding > 0) await writeAll(handle, new Uint8Array(padding), start + bytes);
}

/** Reads a gemma2 GGUF (F32, F16, Q8_0 or Q4_0 tensors) into float32 parameters with Hugging Face names. */
export async function readGguf(path: string): Promise<GgufModel> {
  const { config, params, metadata } = await readGgufFile(path, false);
  return { config, params, metadata };
}

/**
 * Reads a gemma2 GGUF keeping its Q8_0 / Q4_0 matrices quantized (GgufQuantizedModel.quantized,
 * for Gemma2Model's `quantized` option); F32 / F16 tensors and norms come as float32 `params`.
 */
export function readGgufQuantized(path: string): Promise<GgufQuantizedModel> {
  return readGgufFile(path, true);
}

const isBlockQuantized = (type: number): type is typeof GGML_Q8_0 | typeof GGML_Q4_0 => type === GGML_Q8_0 || type === GGML_Q4_0;

export interface GgufConfig {
  config: Gemma2Config;
  /** Every metadata entry of the file, by key (64-bit integers as bigint). */
  metadata: Map<string, GgufValue>;
}

/**
 * The config and metadata of a gemma2 GGUF from its header alone (no tensor data is read), checked
 * as readGguf checks them: the reader `gemma-ts info` and readGguf share.
 */
export async function readGgufConfig(path: string): Promise<GgufConfig> {
  const handle = await open(path, "r");
  try {
    const { config, header } = await readConfigAndHeader(handle, path);
    return { config, metadata: header.metadata };
  } finally {
    await handle.close();
  }
}

/** Header, config and tensor spans: everything checked before any tensor is allocated. */
async function readConfigAndHeader(handle: FileHandle, path: string): Promise<{ config: Gemma2Config; header: GgufHeader; fileSize: number }> {
  const fileSize = (await handle.stat()).size;
  const header = await readHeader(handle, fileSize, path);
  const embedding = header.tensors.find((t) => t.name === "token_embd.weight");
  if (!embedding) throw new ConfigMismatchError("token_embd.weight", `missing from ${path}`);
  const config = configFromGgufMetadata(header.metadata, embedding.dims[1] ?? 0, path);
  const tokens = header.metadata.get("tokenizer.ggml.tokens");
  if (Array.isArray(tokens) && tokens.length !== config.vocabSize) {
    throw new ConfigMismatchError("token_embd.weight", `${config.vocabSize} rows for ${tokens.length} tokens in tokenizer.ggml.tokens`);
  }
  checkTensorSpans(header, fileSize, path);
  return { config, header, fileSize };
}

async function readGgufFile(path: string, keepQuantized: boolean): Promise<GgufQuantizedModel> {
  const handle = await open(path, "r");
  try {
    const { config, header, fileSize } = await readConfigAndHeader(handle, path);
    const byName = new Map(header.tensors.map((t) => [t.name, t]));
    const specs = parameterSpecs(config);
    const expected = new Set(specs.map((s) => ggufTensorName(s.name)));
    for (const info of header.tensors) {
      if (expected.has(info.name)) continue;
      if (info.name === "output.weight") throw new ConfigMismatchError(info.name, "an untied output head; Gemma 2 ties it to token_embd");
      throw new ConfigMismatchError(info.name, `is not a tensor of gemma2 with ${config.numHiddenLayers} layers`);
    }
    const infos = specs.map((spec) => {
      const name = ggufTensorName(spec.name);
      const info = byName.get(name);
      if (!info) throw new ConfigMismatchError(name, `missing from ${path}`);
      const dims = ggufDims(spec);
      if (info.dims.length !== dims.length || info.dims.some((d, i) => d !== dims[i])) {
        throw new ConfigMismatchError(name, `dims {${info.dims.join(", ")}}, the config needs {${dims.join(", ")}}`);
      }
      // Before anything is allocated for it (checkTensorSpans could not size this tensor).
      if (!isSupportedGgmlType(info.type)) throw unsupportedType(info, path);
      return info;
    });
    // Which matrices stay quantized, and at which width: 8 bits as soon as one is Q8_0 (Q4_0 codes widen exactly), else 4.
    // (Rows that are not whole blocks take the float path, which names the fault.)
    const kept = specs.map((spec, i) => keepQuantized && spec.shape.length === 2 && isQuantizable(spec.name) && isBlockQuantized(infos[i]!.type) && infos[i]!.dims[0]! % QUANT_BLOCK === 0);
    const bits: QuantBits = specs.some((_, i) => kept[i] && infos[i]!.type === GGML_Q8_0) ? 8 : 4;
    const params: Gemma2Params = new Map();
    const quantized = new Map<string, QuantizedMatrix>();
    for (const [index, spec] of specs.entries()) {
      const info = infos[index]!;
      if (kept[index]) {
        const [rows, cols] = spec.shape as [number, number];
        const matrix = emptyQuantizedMatrix(rows, cols, bits);
        const unpack = info.type === GGML_Q8_0 ? unpackQ8_0Into : unpackQ4_0Into;
        await readTensorBytes(handle, header, info, rows * cols, fileSize, path, (bytes, _type, first) => unpack(bytes, matrix, first / QUANT_BLOCK));
        quantized.set(spec.name, matrix);
        continue;
      }
      const values = await readTensor(handle, header, info, sizeOf(spec.shape), fileSize, path);
      if (storedWithUnitOffset(spec)) for (let i = 0; i < values.length; i++) values[i] = values[i]! - 1;
      params.set(spec.name, new HostTensor("float32", spec.shape, values));
    }
    return { config, params, metadata: header.metadata, quantized };
  } finally {
    await handle.close();
  }
}

/**
 * Reads a growing prefix of the file until the header parses (a 256k-token vocabulary is MiBs),
 * up to LOADER_LIMITS.ggufHeaderBytes.
 */
async function readHeader(handle: FileHandle, fileSize: number, path: string): Promise<GgufHeader> {
  const maxBytes = LOADER_LIMITS.ggufHeaderBytes.max;
  let length = Math.min(fileSize, maxBytes, 1 << 20);
  for (;;) {
    const bytes = new Uint8Array(length);
    await readExactly(handle, bytes, 0, path);
    try {
      return decodeGgufHeader(bytes, fileSize, path);
    } catch (error) {
      if (!(error instanceof NeedMoreBytes) || length === fileSize) throw error;
      // The header goes on past the limit: its size is at least one byte more than read.
      if (length >= maxBytes) checkLimit("ggufHeaderBytes", "header size", length + 1, path);
      length = Math.min(fileSize, maxBytes, length * 4);
    }
  }
}

async function readTensor(handle: FileHandle, header: GgufHeader, info: GgufTensorInfo, elements: number, fileSize: number, path: string): Promise<Float32Array> {
  const out = new Float32Array(elements);
  await readTensorBytes(handle, header, info, elements, fileSize, path, (bytes, type, first, count) => decodeTensorData(bytes, type, out.subarray(first, first + count)));
  return out;
}

/**
 * Reads a tensor's data in chunks of whole blocks, each handed to `visit` with the range of
 * elements it holds (the chunk is scratch, reused for the next one).
 */
async function readTensorBytes(
  handle: FileHandle,
  header: GgufHeader,
  info: GgufTensorInfo,
  elements: number,
  fileSize: number,
  path: string,
  visit: (bytes: Uint8Array, type: SupportedGgmlType, firstElement: number, elementCount: number) => void,
): Promise<void> {
  const type = info.type;
  if (!isSupportedGgmlType(type)) throw unsupportedType(info, path);
  if (info.dims[0]! % ggmlBlockSize(type) !== 0) {
    throw new MalformedCheckpointError(path, `tensor '${info.name}' rows of ${info.dims[0]} are not whole ${ggmlTypeName(type)} blocks`);
  }
  const bytes = ggmlByteSize(type, elements, info.name);
  const start = header.dataOffset + info.offset;
  if (start + bytes > fileSize) {
    throw new MalformedCheckpointError(path, `truncated: tensor '${info.name}' needs bytes ${start} to ${start + bytes}, the file has ${fileSize}`);
  }
  const scratch = new Uint8Array(ggmlByteSize(type, Math.min(CHUNK_ELEMENTS, elements), info.name));
  let done = 0;
  for (let first = 0; first < elements; first += CHUNK_ELEMENTS) {
    const count = Math.min(CHUNK_ELEMENTS, elements - first);
    const chunk = scratch.subarray(0, ggmlByteSize(type, count, info.name));
    await readExactly(handle, chunk, start + done, path);
    visit(chunk, type, first, count);
    done += chunk.length;
  }
}

function unsupportedType(info: GgufTensorInfo, path: string): UnsupportedDTypeError {
  return new UnsupportedDTypeError(ggmlTypeName(info.type), `GGUF tensor '${info.name}' in ${path}; F32, F16, Q8_0 and Q4_0 are read`);
}
