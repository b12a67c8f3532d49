// Gemma2Config: the fields of Hugging Face's config.json for model_type "gemma2", typed and
// validated once at the boundary (zod), plus the released sizes and small CPU-trainable presets.
// Facts: docs/gemma2.md section 2; query_pre_attn_scalar is read, never derived (27B: 144).
import { z } from "zod";
import { InvalidConfigError } from "../../errors.js";
import { checkLimit, type LoaderLimitName } from "../../io/limits.js";

export type LayerKind = "sliding_attention" | "full_attention";

export interface Gemma2Config {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  /** Scores are scaled by queryPreAttnScalar ** -0.5. */
  queryPreAttnScalar: number;
  slidingWindow: number;
  /** Scores are soft-capped as cap * tanh(s / cap) before masking; null turns it off. */
  attnLogitSoftcapping: number | null;
  finalLogitSoftcapping: number | null;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  /** One per layer; Gemma 2 makes the even-indexed layers sliding. */
  layerTypes: readonly LayerKind[];
  bosTokenId: number;
  eosTokenId: number | readonly number[];
  padTokenId: number;
  initializerRange: number;
}

const positiveInt = z.number().int().positive();

const hfConfigSchema = z.looseObject({
  model_type: z.literal("gemma2").optional(),
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt,
  head_dim: positiveInt,
  query_pre_attn_scalar: z.number().positive(),
  sliding_window: positiveInt,
  attn_logit_softcapping: z.number().positive().nullable().default(50),
  final_logit_softcapping: z.number().positive().nullable().default(30),
  rope_theta: z.number().positive().optional(),
  rope_parameters: z.looseObject({ rope_theta: z.number().positive() }).optional(),
  max_position_embeddings: positiveInt,
  rms_norm_eps: z.number().positive().default(1e-6),
  hidden_activation: z.literal("gelu_pytorch_tanh").optional(),
  hidden_act: z.literal("gelu_pytorch_tanh").optional(),
  layer_types: z.array(z.enum(["sliding_attention", "full_attention"])).optional(),
  tie_word_embeddings: z.literal(true).default(true),
  bos_token_id: z.number().int().nonnegative().default(2),
  eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).default(1),
  pad_token_id: z.number().int().nonnegative().default(0),
  initializer_range: z.number().positive().default(0.02),
});

/** Gemma 2's layer pattern: even-indexed layers use the sliding window, odd ones see everything. */
export function gemma2LayerTypes(numHiddenLayers: number): LayerKind[] {
  return Array.from({ length: numHiddenLayers }, (_, i) => (i % 2 === 0 ? "sliding_attention" : "full_attention"));
}

/**
 * Parses and validates a config.json object; errors name the field. `source` names where it came
 * from in errors. Sizes are checked against LOADER_LIMITS before anything is built from them.
 */
export function configFromHf(json: unknown, source = "config.json"): Gemma2Config {
  const parsed = hfConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidConfigError(issue.path.join(".") || "(root)", `${issue.message} (in ${source})`);
  }
  const c = parsed.data;
  const sizes: [LoaderLimitName, string, number][] = [
    ["vocabSize", "vocab_size", c.vocab_size],
    ["hiddenSize", "hidden_size", c.hidden_size],
    ["intermediateSize", "intermediate_size", c.intermediate_size],
    ["layers", "num_hidden_layers", c.num_hidden_layers],
    ["attentionHeads", "num_attention_heads", c.num_attention_heads],
    ["keyValueHeads", "num_key_value_heads", c.num_key_value_heads],
    ["headDim", "head_dim", c.head_dim],
    ["slidingWindow", "sliding_window", c.sliding_window],
    ["maxPositions", "max_position_embeddings", c.max_position_embeddings],
    ["tokenId", "bos_token_id", c.bos_token_id],
    ["tokenId", "pad_token_id", c.pad_token_id],
    ...(typeof c.eos_token_id === "number" ? [c.eos_token_id] : c.eos_token_id).map((id, i): [LoaderLimitName, string, number] => ["tokenId", typeof c.eos_token_id === "number" ? "eos_token_id" : `eos_token_id.${i}`, id]),
  ];
  for (const [limit, field, value] of sizes) checkLimit(limit, field, value, source);
  const ropeTheta = c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000;
  const layerTypes = c.layer_types ?? gemma2LayerTypes(c.num_hidden_layers);
  if (layerTypes.length !== c.num_hidden_layers) {
    throw new InvalidConfigError("layer_types", `${layerTypes.length} entries for ${c.num_hidden_layers} layers`);
  }
  if (c.num_attention_heads % c.num_key_value_heads !== 0) {
    throw new InvalidConfigError("num_key_value_heads", `${c.num_key_value_heads} does not divide num_attention_heads ${c.num_attention_heads}`);
  }
  if (c.head_dim % 2 !== 0) throw new InvalidConfigError("head_dim", `rotary embeddings need an even head_dim, got ${c.head_dim}`);
  return {
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numHiddenLayers: c.num_hidden_layers,
    numAttentionHeads: c.num_attention_heads,
    numKeyValueHeads: c.num_key_value_heads,
    headDim: c.head_dim,
    queryPreAttnScalar: c.query_pre_attn_scalar,
    slidingWindow: c.sliding_window,
    attnLogitSoftcapping: c.attn_logit_softcapping,
    finalLogitSoftcapping: c.final_logit_softcapping,
    ropeTheta,
    maxPositionEmbeddings: c.max_position_embeddings,
    rmsNormEps: c.rms_norm_eps,
    layerTypes,
    bosTokenId: c.bos_token_id,
    eosTokenId: c.eos_token_id,
    padTokenId: c.pad_token_id,
    initializerRange: c.initializer_range,
  };
}

/** The config.json object Hugging Face transformers writes for this config. */
export function configToHf(config: Gemma2Config, dtype: "float32" | "bfloat16" | "float16" = "float32"): Record<string, unknown> {
  return {
    architectures: ["Gemma2ForCausalLM"],
    model_type: "gemma2",
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numHiddenLayers,
    num_attention_heads: config.numAttentionHeads,
    num_key_value_heads: config.numKeyValueHeads,
    head_dim: config.headDim,
    query_pre_attn_scalar: config.queryPreAttnScalar,
    sliding_window: config.slidingWindow,
    attn_logit_softcapping: config.attnLogitSoftcapping,
    final_logit_softcapping: config.finalLogitSoftcapping,
    rope_theta: config.ropeTheta,
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    hidden_activation: "gelu_pytorch_tanh",
    hidden_act: "gelu_pytorch_tanh",
    layer_types: config.layerTypes,
    tie_word_embeddings: true,
    attention_bias: false,
    attention_dropout: 0,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    pad_token_id: config.padTokenId,
    initializer_range: config.initializerRange,
    cache_implementation: "hybrid",
    torch_dtype: dtype,
  };
}
