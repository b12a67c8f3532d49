// The one way the loaders read a JSON side file (config.json, the shard index, trainer_state.json):
// its size is checked before it is read, its bytes must be UTF-8 and JSON, and every failure is a
// typed error naming the file. JSON.parse does not recurse, so deep nesting alone is harmless here;
// the schema checks that follow look at fixed paths only.
import { readFile, stat } from "node:fs/promises";
import { MalformedCheckpointError } from "../errors.js";
import { checkLimit } from "./limits.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export async function readJsonFile(file: string): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw new MalformedCheckpointError(file, "is a folder, not a JSON file");
    checkLimit("jsonFileBytes", "file size", info.size, file);
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new MalformedCheckpointError(file, "missing");
    throw error;
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new MalformedCheckpointError(file, "not valid UTF-8");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // V8 quotes the text around the fault, newlines included: keep the message on one line.
    throw new MalformedCheckpointError(file, `not valid JSON (${(error as Error).message.replace(/\s+/g, " ")})`);
  }
}
