// How Gemma 2 maps onto llama.cpp's "gemma2" GGUF: tensor names and dims, which tensors are norms
// (stored as 1 + w), and the gemma2.* metadata to and from a Gemma2Config. Facts: docs/gemma2.md
// sections 4.2, 4.4 and 4.5 (convert_hf_to_gguf.py Gemma2Model, llama-model.cpp). llama.cpp fixes
// some choices the config makes (layer pattern, query scale), so configs it cannot express are refused.
import { InvalidConfigError } from "../errors.js";
import { gemma2LayerTypes, type Gemma2Config } from "../models/gemma2/config.js";
import type { ParameterSpec } from "../models/gemma2/params.js";
import type { GgufEntry, GgufValue } from "./gguf-format.js";
import { checkLimit, type LoaderLimitName } from "./limits.js";

const LAYER_TENSORS: Readonly<Record<string, string>> = {
  "input_layernorm.weight": "attn_norm.weight",
  "self_attn.q_proj.weight": "attn_q.weight",
  "self_attn.k_proj.weight": "attn_k.weight",
  "self_attn.v_proj.weight": "attn_v.weight",
  "self_attn.o_proj.weight": "attn_output.weight",
  "post_attention_layernorm.weight": "post_attention_norm.weight",
  // Not "ffn_norm" for post_attention_layernorm as in Llama: gemma2's pre-FFN norm takes that name.
  "pre_feedforward_layernorm.weight": "ffn_norm.weight",
  "mlp.gate_proj.weight": "ffn_gate.weight",
  "mlp.up_proj.weight": "ffn_up.weight",
  "mlp.down_proj.weight": "ffn_down.weight",
  "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
};

/** The GGUF name of a Hugging Face parameter name. */
export function ggufTensorName(hfName: string): string {
  if (hfName === "model.embed_tokens.weight") return "token_embd.weight";
  if (hfName === "model.norm.weight") return "output_norm.weight";
  const match = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
  const suffix = match ? LAYER_TENSORS[match[2]!] : undefined;
  if (!match || !suffix) throw new InvalidConfigError(hfName, "is not a Gemma 2 parameter with a GGUF name");
  return `blk.${match[1]}.${suffix}`;
}

/** GGUF dims are ggml's ne: the PyTorch shape reversed; the bytes are the same row-major bytes. */
export function ggufDims(spec: ParameterSpec): number[] {
  return [...spec.shape].reverse();
}

/** llama.cpp stores Gemma's norm weights as the multiplier 1 + w (the converter adds 1). */
export function storedWithUnitOffset(spec: ParameterSpec): boolean {
  return spec.kind === "norm";
}

/** llama.cpp has no query-scale key: 27B (46 blocks) uses d / H, every other depth head_dim. */
function llamaCppQueryPreAttnScalar(config: Pick<Gemma2Config, "numHiddenLayers" | "hiddenSize" | "numAttentionHeads" | "headDim">): number {
  return config.numHiddenLayers === 46 ? config.hiddenSize / config.numAttentionHeads : config.headDim;
}

/** Throws for a config llama.cpp's gemma2 graph would silently compute differently. */
export function assertLlamaCppCanExpress(config: Gemma2Config): void {
  const scalar = llamaCppQueryPreAttnScalar(config);
  if (config.queryPreAttnScalar !== scalar) {
    throw new InvalidConfigError("queryPreAttnScalar", `${config.queryPreAttnScalar}, but llama.cpp's gemma2 derives ${scalar} for ${config.numHiddenLayers} layers and has no key to override it`);
  }
  const pattern = gemma2LayerTypes(config.numHiddenLayers);
  if (config.layerTypes.some((kind, i) => kind !== pattern[i])) {
    throw new InvalidConfigError("layerTypes", "llama.cpp's gemma2 makes exactly the even-indexed layers sliding");
  }
  if (config.attnLogitSoftcapping === null) throw new InvalidConfigError("attnLogitSoftcapping", "null, but llama.cpp's gemma2 always soft-caps attention scores");
  if (config.finalLogitSoftcapping === null) throw new InvalidConfigError("finalLogitSoftcapping", "null, but llama.cpp's gemma2 always soft-caps the logits");
}

/** The general.* (but file_type) and gemma2.* entries for a config. */
export function architectureEntries(config: Gemma2Config): GgufEntry[] {
  assertLlamaCppCanExpress(config);
  const u32 = (key: string, value: number): GgufEntry => ({ key: `gemma2.${key}`, type: "uint32", value });
  const f32 = (key: string, value: number): GgufEntry => ({ key: `gemma2.${key}`, type: "float32", value });
  return [
    u32("context_length", config.maxPositionEmbeddings),
    u32("embedding_length", config.hiddenSize),
    u32("block_count", config.numHiddenLayers),
    u32("feed_forward_length", config.intermediateSize),
    u32("attention.head_count", config.numAttentionHeads),
    u32("attention.head_count_kv", config.numKeyValueHeads),
    // Required in practice: without them llama.cpp assumes head_dim = d / H, which Gemma 2 never has.
    u32("attention.key_length", config.headDim),
    u32("attention.value_length", config.headDim),
    f32("attention.layer_norm_rms_epsilon", config.rmsNormEps),
    u32("attention.sliding_window", config.slidingWindow),
    f32("attn_logit_softcapping", config.attnLogitSoftcapping ?? 0),
    f32("final_logit_softcapping", config.finalLogitSoftcapping ?? 0),
    f32("rope.freq_base", config.ropeTheta),
  ];
}

/** Reads metadata values for one file, naming the key at fault. */
class MetadataReader {
  constructor(
    private readonly metadata: ReadonlyMap<string, GgufValue>,
    private readonly file: string,
  ) {}

  number(key: string, fallback?: number): number {
    const value = this.metadata.get(key);
    if (value === undefined) {
      if (fallback !== undefined) return fallback;
      throw new InvalidConfigError(key, `missing from ${this.file}`);
    }
    if (typeof value === "bigint") {
      if (value < BigInt(Number.MIN_SAFE_INTEGER) || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidConfigError(key, `${value} in ${this.file} is beyond any size or id a model has`);
      return Number(value);
    }
    if (typeof value !== "number" || !Number.isFinite(value)) throw new InvalidConfigError(key, `${describeValue(value)} in ${this.file} is not a finite number`);
    return value;
  }

  positiveInt(key: string, fallback?: number): number {
    const value = this.number(key, fallback);
    if (!Number.isInteger(value) || value <= 0) throw new InvalidConfigError(key, `${value} in ${this.file} is not a positive integer`);
    return value;
  }

  /** A positive integer within LOADER_LIMITS[limit], checked before anything is sized by it. */
  size(key: string, limit: LoaderLimitName, fallback?: number): number {
    const value = this.positiveInt(key, fallback);
    checkLimit(limit, key, value, this.file);
    return value;
  }

  tokenId(key: string, fallback: number): number {
    const value = this.number(key, fallback);
    if (!Number.isInteger(value) || value < 0) throw new InvalidConfigError(key, `${value} in ${this.file} is not a token id`);
    checkLimit("tokenId", key, value, this.file);
    return value;
  }

  /** A float32 value as the decimal it was written from (1e-6, not 9.99999997e-7). */
  float(key: string, fallback?: number): number {
    return shortestFloat32Decimal(this.number(key, fallback));
  }
}

/** A metadata value for a message: strings quoted and cut short, arrays by length (they can hold millions). */
function describeValue(value: GgufValue): string {
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof value === "string") return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}...` : value);
  return String(value);
}

/** The shortest decimal that rounds to the same float32, so configs round-trip through float32 keys. */
function shortestFloat32Decimal(value: number): number {
  const single = Math.fround(value);
  if (single !== value) return value; // not a float32 (a float64 key): keep it as is
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === single) return candidate;
  }
  return value;
}

/**
 * The config a gemma2 GGUF describes. `vocabSize` comes from token_embd's rows. What GGUF does not
 * store takes llama.cpp's rule (query scale, layer pattern) or the Hugging Face default (init range).
 */
export function configFromGgufMetadata(metadata: ReadonlyMap<string, GgufValue>, vocabSize: number, file: string): Gemma2Config {
  const architecture = metadata.get("general.architecture");
  if (architecture !== "gemma2") {
    throw new InvalidConfigError("general.architecture", `${architecture === undefined ? "missing" : describeValue(architecture)} in ${file}; only "gemma2" files are read`);
  }
  const read = new MetadataReader(metadata, file);
  if (!Number.isInteger(vocabSize) || vocabSize <= 0) throw new InvalidConfigError("token_embd.weight", `${vocabSize} rows in ${file}; the embedding needs at least one`);
  checkLimit("vocabSize", "token_embd.weight rows", vocabSize, file);
  const hiddenSize = read.size("gemma2.embedding_length", "hiddenSize");
  const numHiddenLayers = read.size("gemma2.block_count", "layers");
  const numAttentionHeads = read.size("gemma2.attention.head_count", "attentionHeads");
  const numKeyValueHeads = read.size("gemma2.attention.head_count_kv", "keyValueHeads", numAttentionHeads);
  const headDim = read.size("gemma2.attention.key_length", "headDim", hiddenSize / numAttentionHeads);
  const valueLength = read.size("gemma2.attention.value_length", "headDim", headDim);
  if (valueLength !== headDim) throw new InvalidConfigError("gemma2.attention.value_length", `${valueLength} differs from key_length ${headDim} in ${file}`);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new InvalidConfigError("gemma2.attention.head_count_kv", `${numKeyValueHeads} does not divide head_count ${numAttentionHeads} in ${file}`);
  }
  const bosTokenId = read.tokenId("tokenizer.ggml.bos_token_id", 2);
  const eosTokenId = read.tokenId("tokenizer.ggml.eos_token_id", 1);
  const padTokenId = read.tokenId("tokenizer.ggml.padding_token_id", 0);
  return {
    vocabSize,
    hiddenSize,
    intermediateSize: read.size("gemma2.feed_forward_length", "intermediateSize"),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    queryPreAttnScalar: llamaCppQueryPreAttnScalar({ numHiddenLayers, hiddenSize, numAttentionHeads, headDim }),
    // llama.cpp's loader defaults, for files that leave these out.
    slidingWindow: read.size("gemma2.attention.sliding_window", "slidingWindow", 4096),
    attnLogitSoftcapping: read.float("gemma2.attn_logit_softcapping", 50),
    finalLogitSoftcapping: read.float("gemma2.final_logit_softcapping", 30),
    ropeTheta: read.float("gemma2.rope.freq_base", 10000),
    maxPositionEmbeddings: read.size("gemma2.context_length", "maxPositions"),
    rmsNormEps: read.float("gemma2.attention.layer_norm_rms_epsilon"),
    layerTypes: gemma2LayerTypes(numHiddenLayers),
    bosTokenId,
    eosTokenId,
    padTokenId,
    initializerRange: 0.02,
  };
}
