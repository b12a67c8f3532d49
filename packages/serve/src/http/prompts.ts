// The legacy completions endpoint's `prompt` in the four forms OpenAI's API accepts: a string, a
// list of strings, a list of token ids, or a list of token-id lists. A string becomes <bos> + its
// tokens (completionPromptIds); token ids are taken exactly as given (<bos> is the client's to
// include), so a client that tokenized its data once scores exactly those positions, with no
// text round trip to shift them. Each violation is a 400 naming the offending element.
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { completionPromptIds } from "../completion-prompt.js";
import { REQUEST_LIMITS } from "../request-limits.js";
import { invalidRequest } from "./errors.js";

/** One prompt as the client gave it, and the field it came in ("prompt" or "prompt[i]"). */
export type PromptInput = ({ text: string } | { ids: number[] }) & { param: string };

/** One prompt ready for the engine: its ids and the text an echo repeats. */
export interface Prompt {
  ids: number[];
  text: string;
}

/** The prompts of a request body, in order; throws a 400 for anything else. */
export function parsePrompts(prompt: unknown): PromptInput[] {
  if (prompt === undefined) throw invalidRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
  if (typeof prompt === "string") return [{ text: prompt, param: "prompt" }];
  if (!Array.isArray(prompt)) throw invalidValue("prompt", "expected a string, a list of strings, a list of token ids or a list of token-id lists");
  const limit = REQUEST_LIMITS.prompts;
  if (prompt.length === 0) throw invalidValue("prompt", "expected at least one prompt or token id, got an empty list");
  if (prompt.every((item) => typeof item === "number")) return [{ ids: tokenIds(prompt, "prompt"), param: "prompt" }];
  if (prompt.length > limit.max) throw invalidValue("prompt", `expected at most ${limit.max} prompts, got ${prompt.length}`);
  return prompt.map((item, i) => {
    const param = `prompt[${i}]`;
    if (typeof item === "string") return { text: item, param };
    if (Array.isArray(item)) return { ids: tokenIds(item, param), param };
    throw invalidValue(`prompt[${i}]`, "expected a string or a list of token ids; a list of prompts cannot mix in a bare token id");
  });
}

/** A prompt's ids (validated against the model's vocabulary) and its text. */
export function resolvePrompt(input: PromptInput, tokenizer: Tokenizer, vocabSize: number): Prompt {
  if ("text" in input) return { ids: completionPromptIds(tokenizer, input.text), text: input.text };
  input.ids.forEach((id, i) => {
    if (id >= vocabSize) throw invalidValue(`${input.param}[${i}]`, `${id} is not a token id of the model's vocabulary [0, ${vocabSize})`);
  });
  return { ids: input.ids, text: tokenizer.decode(input.ids, { skipSpecialTokens: true }) };
}

function tokenIds(items: readonly unknown[], param: string): number[] {
  const limit = REQUEST_LIMITS.promptTokens;
  if (items.length < limit.min) throw invalidValue(param, "expected at least one token id, got an empty list");
  if (items.length > limit.max) throw invalidValue(param, `expected at most ${limit.max} token ids, got ${items.length}`);
  items.forEach((id, i) => {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) throw invalidValue(`${param}[${i}]`, `expected a token id (an integer >= 0), got ${shown(id)}`);
  });
  return items as number[];
}

/** A value for a message, without walking it: a body may nest lists thousands deep. */
function shown(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value !== null && typeof value === "object") return "an object";
  return JSON.stringify(value)?.slice(0, 64) ?? String(value);
}

function invalidValue(param: string, problem: string) {
  return invalidRequest(`Invalid value for '${param}': ${problem}.`, param, "invalid_value");
}
