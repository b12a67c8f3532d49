// @gemma-ts/tokenizer/node: loading tokenizers from files. A path ending in .model is read as a
// SentencePiece model; anything else as a Hugging Face tokenizer.json (a directory means the
// tokenizer.json inside it).
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { tokenizerFromJson, tokenizerFromSentencePiece, type Tokenizer } from "./index.js";

export async function loadTokenizer(path: string): Promise<Tokenizer> {
  const file = (await stat(path)).isDirectory() ? join(path, "tokenizer.json") : path;
  const bytes = await readFile(file);
  if (file.endsWith(".model")) return tokenizerFromSentencePiece(bytes);
  return tokenizerFromJson(bytes);
}
