// A post-training stage's model: a Hugging Face folder with its tokenizer.json, read whole (the
// stages train, sample from and score with the weights in memory). A reward model's folder also
// holds its value head (score.weight).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Gemma2Config, Gemma2Params, HostTensor } from "@gemma-ts/core";
import { atomicWriteFile, loadHfCheckpoint, saveHfCheckpoint } from "@gemma-ts/core/node";
import { type Tokenizer, tokenizerFromJson } from "@gemma-ts/tokenizer";
import { InvalidArgumentError } from "commander";
import { exists, TOKENIZER_FILE } from "../training/run-folder.js";

export interface ModelFolder {
  dir: string;
  config: Gemma2Config;
  params: Gemma2Params;
  tokenizer: Tokenizer;
  tokenizerJson: Uint8Array;
  valueHead?: HostTensor<"float32">;
}

export async function readModelFolder(dir: string): Promise<ModelFolder> {
  const tokenizerFile = join(dir, TOKENIZER_FILE);
  if (!(await exists(tokenizerFile))) throw new InvalidArgumentError(`${dir} has no ${TOKENIZER_FILE}; post-training needs the model's tokenizer beside its weights`);
  const tokenizerJson = await readFile(tokenizerFile);
  const { config, params, valueHead } = await loadHfCheckpoint(dir);
  return { dir, config, params, tokenizer: tokenizerFromJson(tokenizerJson), tokenizerJson, ...(valueHead ? { valueHead } : {}) };
}

/** Writes the weights (and a reward model's head) and the tokenizer into `dir`. */
export async function writeModelFolder(dir: string, model: Omit<ModelFolder, "dir" | "tokenizer">): Promise<void> {
  await saveHfCheckpoint(dir, model.config, model.params, model.valueHead ? { valueHead: model.valueHead } : {});
  await atomicWriteFile(join(dir, TOKENIZER_FILE), model.tokenizerJson);
}
