// config.json of a Hugging Face folder, read one way for every caller (loading a checkpoint,
// describing a model, the CLI): size-checked JSON (json-file.ts), then configFromHf, which checks
// every size against LOADER_LIMITS before anything is built from it.
import { join } from "node:path";
import { configFromHf, type Gemma2Config } from "../models/gemma2/config.js";
import { readJsonFile } from "./json-file.js";

export const CONFIG_FILE = "config.json";

/** The Gemma2Config of the folder `dir` (its config.json); typed errors name the file and the field. */
export async function readHfConfig(dir: string): Promise<Gemma2Config> {
  const file = join(dir, CONFIG_FILE);
  return configFromHf(await readJsonFile(file), file);
}
