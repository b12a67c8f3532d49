// The Responses API's memory for previous_response_id: each stored response's conversation (its
// input messages, those of the responses it continued, and its own output), so the next request
// sends only what is new. Bounded and in memory: the least recently used response goes first, and
// a restart forgets them all (an unknown id is a 400, as for a response OpenAI has dropped). The
// next prompt extends the previous one, so the engine's prefix reuse skips its prefill.
import type { ChatMessageInput } from "../chat-prompt.js";

export interface StoredResponse {
  /** The conversation up to and including this response's output (without its instructions). */
  conversation: readonly ChatMessageInput[];
  /** The response object as it was answered, for GET /v1/responses/:id. */
  body: object;
  /**
   * The prompt and reply exactly as the model saw and wrote them: a next prompt whose text
   * extends `text` starts with `ids` rather than their re-tokenized text (which can split the
   * reply differently), so its prefix is the cached row's. Absent for a tool-call reply.
   */
  continuation?: { text: string; ids: readonly number[] } | undefined;
}

export class ResponseStore {
  private readonly responses = new Map<string, StoredResponse & { size: number }>();
  private chars = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxChars = 32 << 20,
  ) {}

  get(id: string): StoredResponse | undefined {
    const found = this.responses.get(id);
    if (found) {
      // Re-insert: the Map's order is the eviction order.
      this.responses.delete(id);
      this.responses.set(id, found);
    }
    return found;
  }

  set(id: string, response: StoredResponse): void {
    this.delete(id);
    const size = JSON.stringify(response.conversation).length + JSON.stringify(response.body).length + (response.continuation ? response.continuation.text.length + 8 * response.continuation.ids.length : 0);
    if (size > this.maxChars) return;
    this.responses.set(id, { ...response, size });
    this.chars += size;
    while (this.responses.size > this.capacity || this.chars > this.maxChars) this.delete(this.responses.keys().next().value!);
  }

  private delete(id: string): void {
    const old = this.responses.get(id);
    if (!old) return;
    this.responses.delete(id);
    this.chars -= old.size;
  }

  get size(): number {
    return this.responses.size;
  }
}
