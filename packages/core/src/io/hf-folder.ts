// Hugging Face checkpoint folders for Gemma 2: config.json plus model.safetensors, or sharded
// weights with model.safetensors.index.json. Loading checks every tensor against parameterSpecs
// before reading any data; saving writes every file atomically. Layout: docs/gemma2.md sections 3.1-3.3.
// A reward model is the same folder with transformers' Gemma2ForSequenceClassification layout: the
// backbone's tensors, `score.weight` [1, hidden] and one label in config.json.
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { ConfigMismatchError, InvalidArgumentError, MalformedCheckpointError } from "../errors.js";
import { configToHf, type Gemma2Config } from "../models/gemma2/config.js";
import { isQuantizable, parameterSpecs, type Gemma2Params } from "../models/gemma2/params.js";
import type { HostTensor } from "../tensor/host-tensor.js";
import { emptyQuantizedMatrix, QUANT_BITS, QUANT_BLOCK, quantizeBlocksInto, type QuantBits, type QuantizedMatrix, type QuantType } from "../quant/blocks.js";
import { VALUE_HEAD } from "../train/objective.js";
import { atomicWriteFile } from "./atomic-write.js";
import { checkAgainstSpecs, sameShape, showShape } from "./checkpoint-specs.js";
import { CONFIG_FILE, readHfConfig } from "./hf-config.js";
import { INDEX_FILE, parseShardIndex, planShards, SHARD_FILE_PATTERN, shardFileName, shardIndexJson, SINGLE_FILE } from "./hf-shards.js";
import { readJsonFile } from "./json-file.js";
import type { SafetensorsTensorInfo } from "./safetensors-format.js";
import { SafetensorsReader, storedByteSize, writeSafetensors, type SafetensorsReadOptions, type StorageFloatDType } from "./safetensors.js";

export interface HfCheckpoint {
  config: Gemma2Config;
  /** Float32 tensors: all of them, or with `quantize` those that are not quantized (the norms). */
  params: Gemma2Params;
  /** With `quantize`: the embedding and the projections, quantized as they were read. */
  quantized?: Map<string, QuantizedMatrix>;
  /** A reward model's value head `score.weight` [1, hidden], when the folder holds one. */
  valueHead?: HostTensor<"float32">;
}

export interface LoadHfCheckpointOptions extends SafetensorsReadOptions {
  /**
   * Quantize the matrices Gemma2Model quantizes while reading them, chunk by chunk, so the float32
   * weights never exist whole: peak memory is the quantized model plus one chunk.
   */
  quantize?: QuantType;
}

/** Elements read and quantized per step (whole blocks; 16 MiB of float32). */
const QUANTIZE_CHUNK = 4 * 2 ** 20;

export interface SaveHfCheckpointOptions {
  /** Storage dtype of the weights (default float32); bfloat16 is what the models were trained in. */
  dtype?: StorageFloatDType;
  /** Split the weights into shards of at most this many data bytes (a larger tensor gets its own shard). */
  maxShardBytes?: number;
  /** Save a reward model: this value head as `score.weight`, and config.json as Gemma2ForSequenceClassification's. */
  valueHead?: HostTensor<"float32">;
}

/** The embedding's tied copy; some exporters write it although Gemma 2 ties it (docs/gemma2.md section 3.2). */

/** Reads a checkpoint folder; weights come back as float32 (or quantized) in parameterSpecs order. */
export async function loadHfCheckpoint(dir: string, options: LoadHfCheckpointOptions = {}): Promise<HfCheckpoint> {
  const config = await readHfConfig(dir);
  const files = await weightFiles(dir);
  const readers: SafetensorsReader[] = [];
  try {
    // Headers only: every shard is checked before any tensor data is read.
    for (const file of files.names) readers.push(await openShard(join(dir, file), files.indexFile));
    const located = locateTensors(readers, files.weightMap, files.indexFile);
    const wanted = checkAgainstSpecs(parameterSpecs(config), new Map([...located].map(([name, { reader, info }]) => [name, { file: reader.file, info }])));
    const head = located.get(VALUE_HEAD);
    if (head && !sameShape(head.info.shape, [1, config.hiddenSize])) {
      throw new ConfigMismatchError(VALUE_HEAD, `expected a one-label value head of shape ${showShape([1, config.hiddenSize])}, got ${showShape(head.info.shape)} in ${head.reader.file}`);
    }
    const loaded = new Map<string, HostTensor<"float32">>();
    const quantized = new Map<string, QuantizedMatrix>();
    // File by file in offset order, so the disk is read front to back.
    for (const reader of readers) {
      for (const info of reader.tensors) {
        if (!wanted.has(info.name)) continue;
        if (options.quantize && isQuantizable(info.name)) quantized.set(info.name, await readQuantized(reader, info, QUANT_BITS[options.quantize]));
        else loaded.set(info.name, await reader.readFloat32(info.name));
      }
    }
    const params: Gemma2Params = new Map();
    for (const name of wanted) if (loaded.has(name)) params.set(name, loaded.get(name)!);
    const valueHead = head ? { valueHead: await head.reader.readFloat32(VALUE_HEAD) } : {};
    return options.quantize ? { config, params, quantized, ...valueHead } : { config, params, ...valueHead };
  } finally {
    for (const reader of readers) await reader.close();
  }
}

async function readQuantized(reader: SafetensorsReader, info: SafetensorsTensorInfo, bits: QuantBits): Promise<QuantizedMatrix> {
  const [rows, cols] = info.shape as [number, number];
  const matrix = emptyQuantizedMatrix(rows, cols, bits);
  let block = 0;
  for await (const chunk of reader.readFloat32Chunks(info.name, QUANTIZE_CHUNK, QUANT_BLOCK)) {
    quantizeBlocksInto(matrix, block, chunk);
    block += chunk.length / QUANT_BLOCK;
  }
  return matrix;
}

/**
 * Writes config.json, generation_config.json and the weights (model.safetensors, or shards and an
 * index when they exceed maxShardBytes), each file atomically. Weight files of the other layout
 * left by an earlier save are removed, as transformers' save_pretrained does, so a loader never
 * picks up stale weights.
 */
export async function saveHfCheckpoint(dir: string, config: Gemma2Config, params: Gemma2Params, options: SaveHfCheckpointOptions = {}): Promise<void> {
  const dtype = options.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "bfloat16" && dtype !== "float16") throw new InvalidArgumentError("dtype", `expected float32, bfloat16 or float16, got '${String(dtype)}'`);
  const maxShardBytes = options.maxShardBytes ?? Number.POSITIVE_INFINITY;
  if (!(maxShardBytes > 0) || (Number.isFinite(maxShardBytes) && !Number.isSafeInteger(maxShardBytes))) {
    throw new InvalidArgumentError("maxShardBytes", `must be a positive integer, got ${maxShardBytes}`);
  }
  const specs = parameterSpecs(config);
  const items = specs.map((spec) => {
    const tensor = params.get(spec.name);
    if (!tensor) throw new ConfigMismatchError(spec.name, "missing from the parameters being saved");
    if (!sameShape(tensor.shape, spec.shape)) throw new ConfigMismatchError(spec.name, `expected shape ${showShape(spec.shape)}, got ${showShape(tensor.shape)}`);
    return { name: spec.name, tensor, bytes: storedByteSize(tensor, dtype) };
  });
  if (options.valueHead) {
    if (!sameShape(options.valueHead.shape, [1, config.hiddenSize])) throw new ConfigMismatchError(VALUE_HEAD, `expected shape ${showShape([1, config.hiddenSize])}, got ${showShape(options.valueHead.shape)}`);
    items.push({ name: VALUE_HEAD, tensor: options.valueHead, bytes: storedByteSize(options.valueHead, dtype) });
  }
  const specNames = new Set(specs.map((spec) => spec.name));
  for (const name of params.keys()) {
    if (!specNames.has(name)) throw new ConfigMismatchError(name, "is not a parameter of this config; refusing to drop it silently");
  }

  await mkdir(dir, { recursive: true });
  const shards = planShards(items, maxShardBytes);
  const keep = new Set<string>();
  if (shards.length <= 1) {
    await writeSafetensors(join(dir, SINGLE_FILE), items.map((item) => [item.name, item.tensor] as const), { dtype });
    keep.add(SINGLE_FILE);
  } else {
    const weightMap = new Map<string, string>();
    let totalSize = 0;
    for (const [k, shard] of shards.entries()) {
      const file = shardFileName(k, shards.length);
      totalSize += await writeSafetensors(join(dir, file), shard.map((item) => [item.name, item.tensor] as const), { dtype });
      for (const item of shard) weightMap.set(item.name, file);
      keep.add(file);
    }
    await atomicWriteFile(join(dir, INDEX_FILE), `${JSON.stringify(shardIndexJson(totalSize, weightMap), null, 2)}\n`);
    keep.add(INDEX_FILE);
  }
  for (const name of await readdir(dir)) {
    const stale = name === SINGLE_FILE || name === INDEX_FILE || SHARD_FILE_PATTERN.test(name);
    if (stale && !keep.has(name)) await rm(join(dir, name), { force: true });
  }
  const hfConfig = options.valueHead ? { ...configToHf(config, dtype), ...SEQUENCE_CLASSIFICATION } : configToHf(config, dtype);
  await atomicWriteFile(join(dir, CONFIG_FILE), `${JSON.stringify(hfConfig, null, 2)}\n`);
  await atomicWriteFile(join(dir, "generation_config.json"), `${JSON.stringify(generationConfig(config), null, 2)}\n`);
}

/** config.json's fields for a one-label sequence classifier (transformers' num_labels = 1: a regression score). */
const SEQUENCE_CLASSIFICATION = { architectures: ["Gemma2ForSequenceClassification"], id2label: { "0": "LABEL_0" }, label2id: { LABEL_0: 0 } };

/** What transformers derives from the model config for generation (docs/gemma2.md section 3.1). */
function generationConfig(config: Gemma2Config): Record<string, unknown> {
  return {
    _from_model_config: true,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    pad_token_id: config.padTokenId,
    cache_implementation: "hybrid",
  };
}

interface WeightFiles {
  names: string[];
  /** Present for sharded checkpoints. */
  weightMap: Map<string, string> | undefined;
  indexFile: string | undefined;
}

/** model.safetensors wins over an index when both exist, as in transformers. */
async function weightFiles(dir: string): Promise<WeightFiles> {
  if (await isFile(join(dir, SINGLE_FILE))) return { names: [SINGLE_FILE], weightMap: undefined, indexFile: undefined };
  const indexFile = join(dir, INDEX_FILE);
  if (!(await isFile(indexFile))) throw new MalformedCheckpointError(dir, `neither ${SINGLE_FILE} nor ${INDEX_FILE} is there`);
  const { weightMap } = parseShardIndex(indexFile, await readJsonFile(indexFile));
  return { names: [...new Set(weightMap.values())].sort(), weightMap, indexFile };
}

async function openShard(file: string, indexFile: string | undefined): Promise<SafetensorsReader> {
  try {
    return await SafetensorsReader.open(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new MalformedCheckpointError(file, `missing, though ${indexFile ?? "the folder"} lists it`);
    throw error;
  }
}

/** Where each tensor lives; with an index, every shard must agree with weight_map both ways. */
function locateTensors(readers: readonly SafetensorsReader[], weightMap: Map<string, string> | undefined, indexFile: string | undefined): Map<string, { reader: SafetensorsReader; info: SafetensorsTensorInfo }> {
  const located = new Map<string, { reader: SafetensorsReader; info: SafetensorsTensorInfo }>();
  for (const reader of readers) {
    for (const info of reader.tensors) {
      const other = located.get(info.name);
      if (other) throw new MalformedCheckpointError(reader.file, `tensor '${info.name}' is also in ${other.reader.file}`);
      if (weightMap && weightMap.get(info.name) !== basename(reader.file)) {
        throw new MalformedCheckpointError(reader.file, `holds tensor '${info.name}', which ${indexFile} does not map to this file`);
      }
      located.set(info.name, { reader, info });
    }
  }
  for (const [name, shard] of weightMap ?? []) {
    if (!located.has(name)) throw new MalformedCheckpointError(indexFile ?? shard, `maps tensor '${name}' to ${shard}, which does not hold it`);
  }
  return located;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
