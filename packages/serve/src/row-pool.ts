// The rows of the engine's KV cache: which request holds each, and which token ids each row's
// cache holds, so a new request whose prompt extends an idle row's ids (the next turn of a chat:
// the last prompt and the reply) reuses that row instead of recomputing the prefix. Idle rows keep
// their ids until evicted, least recently used first.
import type { KVCache } from "@gemma-ts/core";

export class RowPool<Owner> {
  private readonly owners: (Owner | undefined)[];
  /** The ids whose keys and values are in each row of the cache, in order. */
  private readonly held: number[][];
  private readonly lastUsed: number[];
  private clock = 0;

  constructor(private readonly cache: KVCache) {
    this.owners = new Array<Owner | undefined>(cache.batchSize).fill(undefined);
    this.held = Array.from({ length: cache.batchSize }, () => []);
    this.lastUsed = new Array<number>(cache.batchSize).fill(-1);
  }

  get size(): number {
    return this.owners.length;
  }

  get busy(): number {
    return this.owners.filter((owner) => owner !== undefined).length;
  }

  hasFree(): boolean {
    return this.owners.includes(undefined);
  }

  owner(row: number): Owner | undefined {
    return this.owners[row];
  }

  /**
   * Gives `owner` a free row for `prompt` and readies its cache; `reused` prompt tokens are
   * already in it. The row holding the longest reusable prefix of the prompt wins: one whose ids
   * the prompt extends (the next turn of a chat), or one whose cache can be cut back to the
   * shared prefix, if that keeps at least as many ids as it throws away (so a shared system
   * prompt does not evict another conversation). Otherwise empty rows go first, then the least
   * recently used. The prompt's last token is always computed: its logits give the first token.
   */
  acquire(prompt: readonly number[], owner: Owner): { row: number; reused: number } {
    const free = this.owners.flatMap((o, b) => (o === undefined ? [b] : []));
    if (free.length === 0) throw new Error("no free row"); // the scheduler checks hasFree first
    const reusable = (b: number): number => {
      const held = this.held[b]!;
      const shared = Math.min(commonPrefix(held, prompt), prompt.length - 1);
      return this.canCut(b, shared) ? shared : 0;
    };
    let row = free[0]!;
    let score = -1;
    for (const b of free) {
      const shared = reusable(b);
      const kept = shared >= this.held[b]!.length - shared ? shared : 0;
      if (kept > score || (kept === score && this.evictionOrder(b) < this.evictionOrder(row))) {
        row = b;
        score = kept;
      }
    }
    let reused = reusable(row);
    if (reused < this.cache.lengths[row]!) {
      try {
        this.cache.truncate(row, reused);
      } catch {
        reused = 0; // canCut mirrors the cache's rule; the cache has the last word
      }
    }
    if (reused === 0) this.cache.resetRow(row);
    this.held[row]!.length = reused;
    this.owners[row] = owner;
    return { row, reused };
  }

  /**
   * Whether a row's cache can be cut back to `length` positions: a sliding-window layer's ring
   * only still holds the keys a cut needs if the row fits in the window or at most one position
   * is dropped (KVCache.truncate's rule).
   */
  private canCut(row: number, length: number): boolean {
    const current = this.cache.lengths[row]!;
    return length >= current - 1 || current <= this.cache.slots.sliding_attention;
  }

  /** Records ids a forward pass appended to a row's cache (whoever holds the row now). */
  appended(row: number, ids: readonly number[]): void {
    this.held[row]!.push(...ids);
  }

  /** Frees a row; its cached ids stay for a later request to reuse. */
  release(row: number): void {
    this.owners[row] = undefined;
    this.lastUsed[row] = this.clock++;
  }

  /** Drops a row's cached ids (its cache may be in an unknown state, e.g. after a failed forward). */
  forget(row: number): void {
    this.held[row]!.length = 0;
    this.cache.resetRow(row);
  }

  /**
   * Forgets the cached ids of every idle row. Not while a forward pass runs: a row freed during
   * one (its request aborted) still gets that pass's ids.
   */
  clear(): void {
    for (let b = 0; b < this.owners.length; b++) {
      if (this.owners[b] !== undefined) continue;
      this.forget(b);
      this.lastUsed[b] = -1;
    }
  }

  /** Ids held by idle rows (reusable prefixes). */
  get cachedTokens(): number {
    return this.held.reduce((sum, held, b) => sum + (this.owners[b] === undefined ? held.length : 0), 0);
  }

  private evictionOrder(row: number): number {
    return this.held[row]!.length === 0 ? -2 : this.lastUsed[row]!;
  }
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
