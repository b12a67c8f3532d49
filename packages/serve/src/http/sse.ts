// Server-sent events in the form OpenAI streams them: `data: <json>\n\n` per chunk and a final
// `data: [DONE]\n\n`. Writes wait for the socket to drain, so a slow reader slows its own
// generation instead of growing the server's memory; a closed socket ends the waiting.
import type { ServerResponse } from "node:http";

export class SseStream {
  private started = false;

  constructor(private readonly response: ServerResponse) {}

  get opened(): boolean {
    return this.started;
  }

  open(): void {
    this.started = true;
    this.response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      // Tells nginx-style proxies not to buffer the stream.
      "x-accel-buffering": "no",
    });
    this.response.flushHeaders();
  }

  get closed(): boolean {
    return this.response.destroyed || this.response.writableEnded;
  }

  async send(payload: unknown): Promise<void> {
    await this.write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  /** An event with its name (`event:` line), as the Responses API streams. */
  async sendNamed(name: string, payload: unknown): Promise<void> {
    await this.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
  }

  /** Ends the stream with OpenAI's terminator. */
  async done(): Promise<void> {
    await this.write("data: [DONE]\n\n");
    this.end();
  }

  end(): void {
    if (!this.closed) this.response.end();
  }

  private async write(text: string): Promise<void> {
    if (this.closed) return;
    if (this.response.write(text)) return;
    await new Promise<void>((resolve) => {
      const finish = () => {
        this.response.off("drain", finish);
        this.response.off("close", finish);
        resolve();
      };
      this.response.on("drain", finish);
      this.response.on("close", finish);
    });
  }
}
