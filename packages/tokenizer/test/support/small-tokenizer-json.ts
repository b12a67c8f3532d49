// A small valid tokenizer.json in Gemma's shape (byte fallback, added tokens, Replace
// normalizer, Replace/ByteFallback/Fuse decoder, <bos> template), trained here by the package's
// own trainer on the varied strings: the starting point the fuzz tests mutate.
import { type TokenizerJson, trainBpe } from "../../src/index.js";
import { variedStrings } from "./varied-strings.js";

export async function smallTokenizerJson(): Promise<TokenizerJson> {
  const trained = await trainBpe(variedStrings(300, 9), {
    vocabSize: 600,
    specialTokens: ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"],
    newlineTokens: 4,
  });
  return trained.json;
}
