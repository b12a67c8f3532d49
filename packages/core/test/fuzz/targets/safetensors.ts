// Fuzz target (run in a child process by @gemma-ts/fuzz): one safetensors file opened and every
// tensor read. Returning is fine, a typed error is fine; anything else is a finding.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SafetensorsReader } from "../../../src/node.js";

export interface SafetensorsCase {
  /** A scratch folder the test owns. */
  dir: string;
  bytes: Uint8Array;
}

export async function readSafetensorsCase({ dir, bytes }: SafetensorsCase): Promise<void> {
  const path = join(dir, "case.safetensors");
  await writeFile(path, bytes);
  const reader = await SafetensorsReader.open(path);
  try {
    for (const info of reader.tensors) await reader.read(info.name);
  } finally {
    await reader.close();
  }
}
