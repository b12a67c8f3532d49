// The engine's per-token log-probabilities in OpenAI's two wire shapes: the chat endpoint's
// `{ content: [{ token, logprob, bytes, top_logprobs }] }` and the legacy completions endpoint's
// parallel arrays `{ tokens, token_logprobs, top_logprobs: [{ token: logprob }], text_offset }`.
import type { TokenLogprob } from "../types.js";

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
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

/**
 * Tracks where each token starts in a choice's text (OpenAI's text_offset, in UTF-16 units as
 * JavaScript strings count): byte tokens that are part of one character advance it only when
 * the character completes. One per choice, fed its tokens in order across streamed chunks.
 */
export class TextOffsets {
  private readonly decoder = new TextDecoder();
  private position = 0;

  next(bytes: readonly number[]): number {
    const start = this.position;
    this.position += this.decoder.decode(Uint8Array.from(bytes), { stream: true }).length;
    return start;
  }
}

export function completionLogprobs(tokens: readonly TokenLogprob[], offsets: TextOffsets = new TextOffsets()): CompletionLogprobs {
  const result: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  for (const entry of tokens) {
    result.tokens.push(entry.token);
    result.token_logprobs.push(entry.logprob);
    result.top_logprobs.push(Object.fromEntries(entry.topLogprobs.map((top) => [top.token, top.logprob])));
    result.text_offset.push(offsets.next(entry.bytes));
  }
  return result;
}
