// A raw prompt string to Gemma prompt ids: <bos> then the text, no chat template (OpenAI's legacy
// completions endpoint and `gemma-ts generate`).
import type { Tokenizer } from "@gemma-ts/tokenizer";

/**
 * <bos> then the prompt. Added explicitly rather than through the tokenizer's post-processor,
 * which a tokenizer.json may lack; special tokens written in the prompt are still recognised.
 */
export function completionPromptIds(tokenizer: Tokenizer, prompt: string): number[] {
  const ids = Array.from(tokenizer.encode(prompt, { addSpecialTokens: false }).ids);
  const bos = tokenizer.special.bos;
  return bos === undefined || ids[0] === bos ? ids : [bos, ...ids];
}
