// Fuzz target (run in a child process by @gemma-ts/fuzz): a Hugging Face folder whose config.json
// (and, for a sharded folder, model.safetensors.index.json) is the case's text, loaded whole or
// quantized, or only its config read. Returning is fine, a typed error is fine; anything else is
// a finding. The test writes the weights into the folders once.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { INDEX_FILE, loadHfCheckpoint, readHfConfig } from "../../../src/node.js";

export interface HfFolderCase {
  /** A folder the test owns, holding the weights (model.safetensors, or shards and an index). */
  dir: string;
  config: string;
  /** Replaces the shard index (for the sharded folder). */
  index?: string;
  mode: "load" | "quantized" | "config";
}

export async function loadHfFolderCase({ dir, config, index, mode }: HfFolderCase): Promise<void> {
  await writeFile(join(dir, "config.json"), config);
  if (index !== undefined) await writeFile(join(dir, INDEX_FILE), index);
  if (mode === "config") await readHfConfig(dir);
  else await loadHfCheckpoint(dir, mode === "quantized" ? { quantize: "q8" } : {});
}
