// What the fuzz child runs per case: load a tokenizer from the input, then use it, so a file that
// loads but breaks the encoder or decoder (a hang, a blow-up, a raw exception) is caught too.
import { BpeModel, type Tokenizer, tokenizerFromJson, tokenizerFromSentencePiece } from "../../../src/index.js";

// Spaces, newlines, an added token, a user-defined symbol, digits, characters that need byte
// fallback, a literal '▁': the paths every component takes.
const TEXT = "The antenna <tag> on  Ωz!\n\n\t12 😀 <bos>x▁y aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!".repeat(8);

function exercise(tokenizer: Tokenizer): void {
  const { ids } = tokenizer.encode(TEXT);
  tokenizer.decode(ids);
  tokenizer.decode([0, 1, 2, 3, 4, 5, 100, 255, 256, 300, 1_000_000], { skipSpecialTokens: true });
}

/** Input: the text (or bytes) of a tokenizer.json. */
export function loadTokenizerJson(input: string | Uint8Array): void {
  exercise(tokenizerFromJson(input));
}

/** Input: the bytes of a SentencePiece .model. */
export function loadSentencePiece(input: Uint8Array): void {
  exercise(tokenizerFromSentencePiece(input));
  exercise(tokenizerFromSentencePiece(input, { addBos: true, addEos: true }));
}

/** Input: the length of a sparse token array given straight to the BPE model. */
export function buildSparseBpeModel(length: number): void {
  const tokens: (string | undefined)[] = [];
  tokens[length - 1] = "a";
  new BpeModel({ tokens, merges: [] });
}
