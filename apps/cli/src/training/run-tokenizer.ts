// The tokenizer of a training run, saved as <out>/tokenizer.json before any data is tokenized: the
// --tokenizer given, else the --model folder's tokenizer.json, else the teacher store's (the
// teacher's, which a distilled student must share), else a Gemma-style BPE vocabulary trained here
// on the training documents with the model's vocabulary size. A resumed run reads back the saved
// file, so its shards and batches are the ones the run began with.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile } from "@gemma-ts/core/node";
import { isChatDocument, readDocuments, type TextUnit } from "@gemma-ts/data";
import { GEMMA_SPECIAL_TOKENS, type Tokenizer, tokenizerFromJson, trainBpe } from "@gemma-ts/tokenizer";
import { InvalidArgumentError } from "commander";
import { exists, TOKENIZER_FILE } from "./run-folder.js";

/** Chat markers are special tokens, so chat data tokenizes and the model can be served as a chat model. */
const SPECIAL_TOKENS = [...GEMMA_SPECIAL_TOKENS, "<start_of_turn>", "<end_of_turn>"];

export interface RunTokenizerOptions {
  out: string;
  resuming: boolean;
  /** A tokenizer.json, or a folder holding one. */
  given: string | null;
  modelDir: string | null;
  /** A tokenizer.json to use when neither `given` nor the model folder has one (null: none). */
  fallback: string | null;
  data: readonly string[];
  textUnit: TextUnit;
  vocabSize: number;
  log: (line: string) => void;
}

export async function runTokenizer(options: RunTokenizerOptions): Promise<Tokenizer> {
  const saved = join(options.out, TOKENIZER_FILE);
  if (options.resuming && (await exists(saved))) return tokenizerFromJson(await readFile(saved));
  const fallback = options.fallback !== null && (await exists(options.fallback)) ? options.fallback : null;
  const source = options.given ?? (options.modelDir !== null && (await exists(join(options.modelDir, TOKENIZER_FILE))) ? options.modelDir : fallback);
  if (source !== null) {
    const file = (await stat(source)).isDirectory() ? join(source, TOKENIZER_FILE) : source;
    if (!file.endsWith(".json")) throw new InvalidArgumentError(`--tokenizer must be a tokenizer.json (or a folder holding one), got ${source}`);
    const bytes = await readFile(file);
    const tokenizer = tokenizerFromJson(bytes);
    await atomicWriteFile(saved, bytes);
    return tokenizer;
  }
  options.log(`training a ${options.vocabSize}-token vocabulary on the training data`);
  const trained = await trainBpe(documentTexts(options.data, options.textUnit), { vocabSize: options.vocabSize, specialTokens: SPECIAL_TOKENS });
  await atomicWriteFile(saved, trained.toJsonString());
  return trained.toTokenizer();
}

/** The text of every document (each message of a chat), streamed. */
async function* documentTexts(files: readonly string[], textUnit: TextUnit): AsyncGenerator<string> {
  for (const file of files) {
    for await (const document of readDocuments(file, { textUnit })) {
      if (isChatDocument(document)) for (const message of document.messages) yield message.content;
      else yield document.text;
    }
  }
}
