// JSON over HTTP to an OpenAI-compatible endpoint, for a teacher: at most `concurrency` requests in
// flight, each with its own timeout, retried with backoff (retry.ts) on 408, 429, 5xx, timeouts and
// network errors, up to the policy's attempts; anything else, or the last failure, is a
// TeacherRequestError carrying the server's own message (a 401 a TeacherAuthError). Plain fetch:
// no client library needed. The API key goes out as `Authorization: Bearer` on every request and
// nowhere else: a server message quoting it is masked before it reaches an error.
import { InvalidArgumentError, TeacherAuthError, TeacherRequestError, TeacherResponseError } from "./errors.js";
import { backoffDelay, type RetryPolicy, retryableStatus, sleep } from "./retry.js";

export interface EndpointClientOptions {
  /** The API root, e.g. http://127.0.0.1:8000/v1. */
  baseURL: string;
  /** Sent as `Authorization: Bearer <apiKey>` on every request. */
  apiKey?: string | undefined;
  concurrency: number;
  timeoutMs: number;
  retry: RetryPolicy;
  /** Stops waits and requests in flight (close()). */
  signal?: AbortSignal;
}

export class EndpointClient {
  readonly baseURL: string;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: EndpointClientOptions) {
    this.baseURL = options.baseURL;
    if (!Number.isSafeInteger(options.concurrency) || options.concurrency < 1) throw new InvalidArgumentError("concurrency", `expected an integer >= 1, got ${options.concurrency}`);
    if (!(options.timeoutMs > 0 && Number.isFinite(options.timeoutMs))) throw new InvalidArgumentError("timeoutMs", `expected a positive number, got ${options.timeoutMs}`);
    // fetch would refuse such a header with a message quoting it; said here without the key.
    if (options.apiKey !== undefined && !/^[\x21-\x7e]+$/.test(options.apiKey)) {
      throw new InvalidArgumentError("apiKey", "expected a non-empty key of printable ASCII without spaces");
    }
  }

  get(path: string): Promise<unknown> {
    return this.request("GET", path, undefined);
  }

  post(path: string, body: unknown): Promise<unknown> {
    return this.request("POST", path, JSON.stringify(body));
  }

  private async request(method: string, path: string, body: string | undefined): Promise<unknown> {
    const url = `${this.baseURL}${path}`;
    const { retry } = this.options;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.limited(() => this.once(method, url, body));
      if (outcome.kind === "ok") return outcome.body;
      if (outcome.status === 401) throw new TeacherAuthError(url, this.options.apiKey !== undefined, outcome.message, attempt);
      const last = attempt >= retry.attempts;
      if (!outcome.retryable || last) throw new TeacherRequestError(url, outcome.status, attempt, outcome.problem, { cause: outcome.cause });
      await sleep(backoffDelay(attempt, retry, outcome.retryAfter), this.options.signal);
    }
  }

  /** Runs `task` once fewer than `concurrency` tasks are running. */
  private async limited<T>(task: () => Promise<T>): Promise<T> {
    while (this.inFlight >= this.options.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      return await task();
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  private async once(method: string, url: string, body: string | undefined): Promise<Outcome> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.options.apiKey !== undefined) headers.authorization = `Bearer ${this.options.apiKey}`;
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = this.options.signal ? AbortSignal.any([timeout, this.options.signal]) : timeout;
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const response = await fetch(url, { method, headers, body, signal });
      status = response.status;
      retryAfter = response.headers.get("retry-after");
      text = await response.text();
    } catch (error) {
      if (this.options.signal?.aborted) throw this.options.signal.reason;
      const timedOut = timeout.aborted;
      const reason = timedOut ? `no answer within ${this.options.timeoutMs} ms` : `network error: ${describeNetworkError(error)}`;
      return { kind: "failed", status: undefined, retryable: true, retryAfter: null, problem: reason, message: reason, cause: error };
    }
    if (status >= 200 && status < 300) {
      try {
        return { kind: "ok", body: JSON.parse(text) };
      } catch (error) {
        throw new TeacherResponseError(url, "(body)", `not JSON (${(error as Error).message}): ${JSON.stringify(this.masked(text).slice(0, 200))}`);
      }
    }
    // Masked before parsing (a cut or escaped key would slip through after) and after (a JSON escape undone).
    const message = this.masked(serverMessage(this.masked(text)));
    return { kind: "failed", status, retryable: retryableStatus(status), retryAfter, problem: `HTTP ${status}: ${message}`, message, cause: undefined };
  }

  /** A server's text with the key, should it quote it, replaced. */
  private masked(text: string): string {
    const key = this.options.apiKey;
    return key === undefined ? text : text.split(key).join("<api key>");
  }
}

type Outcome =
  | { kind: "ok"; body: unknown }
  | { kind: "failed"; status: number | undefined; retryable: boolean; retryAfter: string | null; problem: string; message: string; cause: unknown };

/** OpenAI's error JSON's message when the body is one, else the body's start. */
function serverMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof parsed.error === "string" ? parsed.error : (parsed.error?.message ?? parsed.message);
    if (typeof message === "string") return message;
  } catch {
    // not JSON: shown as it is
  }
  return JSON.stringify(text.slice(0, 300));
}

/** fetch's TypeError says only "fetch failed"; the cause names the socket error. */
function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const inner = cause?.code ?? cause?.message;
  return inner ? `${(error as Error).message} (${inner})` : String((error as Error).message ?? error);
}
