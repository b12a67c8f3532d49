// The engine's per-token log-probabilities in OpenAI's two wire shapes: the chat endpoint's
// `{ content: [{ token, logprob, bytes, top_logprobs }] }` and the legacy completions endpoint's
// parallel arrays `{ tokens, token_logprobs, top_logprobs: [{ token: logprob }], text_offset }`
// (with echo, the prompt's tokens first, the first of them null: nothing precedes it); and
// vLLM's `prompt_logprobs`: [null, { "<id>": { logprob, rank, decoded_token } }, ...].
import type { LogprobToken, PromptTokenLogprob, TokenLogprob } from "../types.js";

export interface ChatLogprobs {
  content: { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string; logprob: number; bytes: number[] }[] }[];
  refusal: null;
}

export function chatLogprobs(tokens: readonly TokenLogprob[]): ChatLogprobs {
  return {
    content: tokens.map((entry) => ({
      token: entry.token,
      logprob: entry.logprob,
      bytes: entry.bytes,
      top_logprobs: entry.topLogprobs.map((top) => ({ token: top.token, logprob: top.logprob, bytes: top.bytes })),
    })),
    refusal: null,
  };
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/**
 * Tracks where each token starts in a choice's text (OpenAI's text_offset, in UTF-16 units as
 * JavaScript strings count): byte tokens that are part of one character advance it only when
 * the character completes; special tokens (<bos>) add no text, so they do not advance it. One per
 * choice, fed its tokens in order across streamed chunks; an echoed choice's generated tokens
 * start after the prompt's text.
 */
export class TextOffsets {
  private readonly decoder = new TextDecoder();

  constructor(private position = 0) {}

  next(token: Pick<LogprobToken, "bytes" | "special">): number {
    const start = this.position;
    if (!token.special) this.position += this.decoder.decode(Uint8Array.from(token.bytes), { stream: true }).length;
    return start;
  }
}

export function completionLogprobs(tokens: readonly (TokenLogprob | PromptTokenLogprob)[], offsets: TextOffsets = new TextOffsets()): CompletionLogprobs {
  const result: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  for (const entry of tokens) {
    result.tokens.push(entry.token);
    result.token_logprobs.push(entry.logprob);
    result.top_logprobs.push(entry.logprob === null ? null : Object.fromEntries(entry.topLogprobs.map((top) => [top.token, top.logprob])));
    result.text_offset.push(offsets.next(entry));
  }
  return result;
}

/** Two stretches of one choice's logprobs (the echoed prompt's, then the generated tokens'). */
export function concatLogprobs(a: CompletionLogprobs, b: CompletionLogprobs): CompletionLogprobs {
  return {
    tokens: [...a.tokens, ...b.tokens],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
    text_offset: [...a.text_offset, ...b.text_offset],
  };
}

export type VllmPromptLogprobs = (Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[];

/** vLLM's prompt_logprobs: per prompt token, the token itself (with its rank) and the top alternatives (ranks 1..k), keyed by id. */
export function vllmPromptLogprobs(prompt: readonly PromptTokenLogprob[]): VllmPromptLogprobs {
  return prompt.map((entry) => {
    if (entry.logprob === null || entry.rank === null) return null;
    const byId: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
    byId[entry.id] = { logprob: entry.logprob, rank: entry.rank, decoded_token: entry.token };
    entry.topLogprobs.forEach((top, i) => {
      if (top.id !== entry.id) byId[top.id] = { logprob: top.logprob, rank: i + 1, decoded_token: top.token };
    });
    return byId;
  });
}
