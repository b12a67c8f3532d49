// When and how long to wait before trying a teacher request again. Exponential backoff with
// jitter: the waits of many clients hitting one server spread out instead of arriving together,
// and a server's Retry-After (seconds or an HTTP date) is honoured up to the ceiling.
import { InvalidArgumentError } from "./errors.js";

export interface RetryPolicy {
  /** Tries in all, the first included (default 5). */
  attempts: number;
  /** The wait before the second try; it doubles with each further one (default 500 ms). */
  baseDelayMs: number;
  /** The longest wait, Retry-After included (default 30 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

export function retryPolicy(given: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...given };
  if (!Number.isSafeInteger(policy.attempts) || policy.attempts < 1) throw new InvalidArgumentError("retry.attempts", `expected an integer >= 1, got ${policy.attempts}`);
  for (const name of ["baseDelayMs", "maxDelayMs"] as const) {
    if (!(policy[name] >= 0 && Number.isFinite(policy[name]))) throw new InvalidArgumentError(`retry.${name}`, `expected a number >= 0, got ${policy[name]}`);
  }
  return policy;
}

/** Statuses worth another try: the server is busy or broken for now, not refusing the request. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The wait before try `attempt` + 1 (attempt counts from 1): the doubled base, drawn uniformly from
 * its upper half ("equal jitter": never much shorter than the backoff, never synchronised), and
 * at least what Retry-After asks, all capped at maxDelayMs.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, retryAfter: string | null = null, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = exponential * (0.5 + 0.5 * random());
  return Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs(retryAfter) ?? 0));
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
