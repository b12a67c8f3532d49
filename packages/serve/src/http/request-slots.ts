// The generation requests in flight: at most `limit` at once (the next gets a 429 instead of
// queueing without bound), each with an AbortController that fires when its client disconnects
// or the server shuts down, so the engine frees the batch slot at once.
import type { ServerResponse } from "node:http";
import { tooManyRequests } from "./errors.js";

/** Why a request was aborted: its client left, the server is stopping, or one of its choices failed. */
export type AbortCause = "client_closed" | "shutdown" | "failed";

export class ActiveRequest {
  private readonly controller = new AbortController();
  private abortCause: AbortCause | undefined;
  private readonly onClose = () => {
    // 'close' after the response was fully written is the normal end, not a disconnect.
    if (!this.response.writableFinished) this.abort("client_closed");
  };

  constructor(
    private readonly response: ServerResponse,
    private readonly release: (request: ActiveRequest) => void,
  ) {
    response.on("close", this.onClose);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get cause(): AbortCause | undefined {
    return this.abortCause;
  }

  abort(cause: AbortCause): void {
    if (this.controller.signal.aborted) return;
    this.abortCause = cause;
    this.controller.abort();
  }

  /** Frees the slot; idempotent. */
  end(): void {
    this.response.off("close", this.onClose);
    this.release(this);
  }
}

export class RequestSlots {
  private readonly active = new Set<ActiveRequest>();
  private waiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  get size(): number {
    return this.active.size;
  }

  /** Takes a slot for a request answering on `response`, or throws a 429. */
  begin(response: ServerResponse): ActiveRequest {
    if (this.active.size >= this.limit) throw tooManyRequests(this.limit);
    const request = new ActiveRequest(response, (done) => {
      if (!this.active.delete(done) || this.active.size > 0) return;
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    });
    this.active.add(request);
    return request;
  }

  /** Aborts every request in flight (shutdown after the grace period). */
  abortAll(): void {
    for (const request of this.active) request.abort("shutdown");
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
