// A conversation with the model: Gemma's chat template over the turns so far, then tokens streamed
// from core's generate() as text. Each step decodes the whole reply and yields what is new, holding
// back while it ends in an incomplete character (byte-fallback tokens), as streamers do.
import { type CausalLM, generate } from "@gemma-ts/core";
import type { ChatMessage, Tokenizer } from "@gemma-ts/tokenizer";

export interface ReplyOptions {
  temperature: number;
  maxNewTokens: number;
  signal?: AbortSignal;
}

export class ChatSession {
  private readonly turns: ChatMessage[] = [];

  constructor(
    private readonly model: CausalLM,
    private readonly tokenizer: Tokenizer,
  ) {}

  reset(): void {
    this.turns.length = 0;
  }

  /** Streams the model's reply to `text`; the reply joins the conversation when it ends. */
  async *reply(text: string, options: ReplyOptions): AsyncGenerator<string> {
    const prompt = this.tokenizer.applyChatTemplate([...this.turns, { role: "user", content: text }], { addGenerationPrompt: true });
    const promptIds = Array.from(this.tokenizer.encode(prompt, { addSpecialTokens: false }).ids);
    const stopTokens = [this.tokenizer.special.eos, this.tokenizer.tokenToId("<end_of_turn>")].filter((id): id is number => id !== undefined);
    const ids: number[] = [];
    let shown = "";
    for await (const token of generate(this.model, promptIds, { temperature: options.temperature, maxNewTokens: options.maxNewTokens, stopTokens, seed: Date.now() % 2 ** 31, ...(options.signal ? { signal: options.signal } : {}) })) {
      if (stopTokens.includes(token.token)) break;
      ids.push(token.token);
      const decoded = this.tokenizer.decode(ids, { skipSpecialTokens: true });
      if (decoded.length > shown.length && !decoded.endsWith("\uFFFD")) {
        yield decoded.slice(shown.length);
        shown = decoded;
      }
    }
    // Bytes that never formed a character are shown as U+FFFD once the reply is over.
    const whole = this.tokenizer.decode(ids, { skipSpecialTokens: true });
    if (whole.length > shown.length) yield whole.slice(shown.length);
    this.turns.push({ role: "user", content: text }, { role: "model", content: whole });
  }
}
