// The tokenizer part of a GGUF export, from the tokenizer.json beside the weights. llama.cpp's
// SentencePiece ("llama") tokenizer wants a score per piece; tokenizer.json keeps merge ranks, not
// scores, so pieces get -id (earlier ids are the earlier, more frequent merges in Gemma-style
// vocabularies). Ids fed directly, as gemma-ts and the parity tests do, do not depend on scores.
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { GgufWriteOptions } from "@gemma-ts/core/node";
import { loadTokenizer } from "@gemma-ts/tokenizer/node";

export async function ggufVocabularyFrom(folder: string, vocabSize: number): Promise<Pick<GgufWriteOptions, "vocabulary" | "chatTemplate">> {
  const tokenizerPath = join(folder, "tokenizer.json");
  try {
    await access(tokenizerPath);
  } catch {
    return {};
  }
  const tokenizer = await loadTokenizer(tokenizerPath);
  const tokens = Array.from({ length: vocabSize }, (_, id) => tokenizer.idToToken(id) ?? `<unused_id_${id}>`);
  const scores = tokens.map((_, id) => -id);
  const result: Pick<GgufWriteOptions, "vocabulary" | "chatTemplate"> = { vocabulary: { tokens, scores } };
  try {
    const config = JSON.parse(await readFile(join(folder, "tokenizer_config.json"), "utf8")) as { chat_template?: unknown };
    if (typeof config.chat_template === "string") result.chatTemplate = config.chat_template;
  } catch {
    // No tokenizer_config.json: no chat template in the GGUF.
  }
  return result;
}
