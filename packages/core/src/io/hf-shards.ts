// The file names of a Hugging Face checkpoint's weights and the sharding rules: greedy packing in
// parameter order up to a byte limit (huggingface_hub's split_torch_state_dict_into_shards), shard
// names model-0000k-of-0000N.safetensors, and the index {metadata: {total_size}, weight_map}.
// Follows docs/gemma2.md section 3.3.
import { MalformedCheckpointError } from "../errors.js";

export const SINGLE_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";
export const SHARD_FILE_PATTERN = /^model-\d{5}-of-\d{5}\.safetensors$/;

export function shardFileName(index: number, count: number): string {
  const pad = (n: number): string => String(n).padStart(5, "0");
  return `model-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

/**
 * Splits items, in order, into groups of at most `maxBytes`; an item larger than the limit gets a
 * group of its own rather than failing, as the Hugging Face writer does.
 */
export function planShards<T extends { bytes: number }>(items: readonly T[], maxBytes: number): T[][] {
  const shards: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    if (current.length > 0 && size + item.bytes > maxBytes) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += item.bytes;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

export interface ShardIndex {
  /** Tensor name to shard file name. */
  weightMap: Map<string, string>;
}

/** Validates a parsed model.safetensors.index.json; shard names must stay inside the folder. */
export function parseShardIndex(file: string, json: unknown): ShardIndex {
  const bad = (problem: string): MalformedCheckpointError => new MalformedCheckpointError(file, problem);
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw bad("the index is not a JSON object");
  const weightMap = (json as Record<string, unknown>).weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) throw bad("weight_map is missing or not an object");
  // metadata.total_size is not checked: converters disagree on what it counts, and the shards'
  // own headers are validated exactly anyway.
  const map = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== "string") throw bad(`weight_map entry for tensor '${tensor}' is not a file name`);
    // A bare file name only: an index must not make the loader open files outside the checkpoint.
    if (shard === "" || shard === "." || shard === ".." || /[/\\]/.test(shard)) throw bad(`weight_map sends tensor '${tensor}' to '${shard}', which is not a file in the folder`);
    map.set(tensor, shard);
  }
  return { weightMap: map };
}

/** The index object transformers writes: weight_map sorted by tensor name. */
export function shardIndexJson(totalSize: number, weightMap: ReadonlyMap<string, string>): Record<string, unknown> {
  const sorted = [...weightMap].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { metadata: { total_size: totalSize }, weight_map: Object.fromEntries(sorted) };
}
