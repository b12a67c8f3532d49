// The tokenizer part of a GGUF export, from the tokenizer.json beside the weights. llama.cpp's
// SentencePiece ("llama") tokenizer wants a score per piece; tokenizer.json keeps merge ranks, not
// scores, so pieces get -id (earlier ids are the earlier, more frequent merges in Gemma-style
// vocabularies). Ids fed directly, as gemma-ts and the parity tests do, do not depend on scores.
import { access } from "node:fs/promises";
import { join } from "node:path";
import { readJsonFile, type GgufWriteOptions } from "@gemma-ts/core/node";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";

export async function ggufVocabularyFrom(folder: string, vocabSize: number): Promise<Pick<GgufWriteOptions, "vocabulary" | "chatTemplate">> {
  const tokenizerPath = join(folder, "tokenizer.json");
  if (!(await exists(tokenizerPath))) return {};
  const tokenizer = await loadTokenizer(tokenizerPath);
  const tokens = Array.from({ length: vocabSize }, (_, id) => tokenizer.idToToken(id) ?? `<unused_id_${id}>`);
  const scores = tokens.map((_, id) => -id);
  const result: Pick<GgufWriteOptions, "vocabulary" | "chatTemplate"> = { vocabulary: { tokens, scores } };
  // Without tokenizer_config.json the GGUF has no chat template; a broken one is reported, not skipped.
  const configPath = join(folder, "tokenizer_config.json");
  if (!(await exists(configPath))) return result;
  const config = await readJsonFile(configPath);
  if (typeof config === "object" && config !== null && typeof (config as { chat_template?: unknown }).chat_template === "string") {
    result.chatTemplate = (config as { chat_template: string }).chat_template;
  }
  return result;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
