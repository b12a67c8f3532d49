// Fuzz target (run in a child process by @gemma-ts/fuzz): one GGUF file through one of the
// readers. Returning is fine, a typed error is fine; anything else is a finding.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readGguf, readGgufConfig, readGgufQuantized } from "../../../src/node.js";

export interface GgufCase {
  /** A scratch folder the test owns. */
  dir: string;
  bytes: Uint8Array;
  mode: "float" | "quantized" | "config";
}

export async function readGgufCase({ dir, bytes, mode }: GgufCase): Promise<void> {
  const path = join(dir, "case.gguf");
  await writeFile(path, bytes);
  if (mode === "config") await readGgufConfig(path);
  else if (mode === "quantized") await readGgufQuantized(path);
  else await readGguf(path);
}
