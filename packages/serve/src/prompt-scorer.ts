// Scores prompts on rows of the engine's KV cache: each step feeds one chunk of every prompt being
// scored and keeps the logits of every position fed (the decoder keeps only the last), so each
// prompt token after the first gets its log-probability given the tokens before it. A prompt is
// fed up to its second-to-last token: the last position's logits score no prompt token, they
// sample the first generated one, which is the decoder's job once scoring is done. Rows feeding
// chunks of one length share a forward pass over the run of cache rows between them, as the
// decoder's passes do; rows inside a run that feed nothing ride along inactive.
import type { CausalLM, KVCache } from "@gemma-ts/core";
import type { ActiveRequest } from "./active-request.js";
import { scoreToken } from "./logprobs.js";
import type { PromptTokenLogprob } from "./types.js";
import type { TokenVocabulary } from "./vocabulary.js";

/** What a step did to one row being scored. */
export interface ScoreStep {
  row: number;
  /** The ids this step appended to the row's cache. */
  fed: readonly number[];
  /** The prompt tokens this step scored (empty when the request ended during the pass). */
  scored: PromptTokenLogprob[];
  /** The whole prompt but its last token is in the cache: every prompt token is scored. */
  done: boolean;
  /** The forward pass failed; the row's cache may not hold its ids. */
  error?: unknown;
}

/** How sparse a run of rows may be: rows spanned per member (the decoder's rule). */
const MAX_SPAN_PER_MEMBER = 2;

export class PromptScorer {
  private readonly scoring = new Map<number, ActiveRequest>();

  constructor(
    private readonly model: CausalLM,
    private readonly cache: KVCache,
    private readonly vocabulary: TokenVocabulary,
  ) {}

  get size(): number {
    return this.scoring.size;
  }

  /** Starts scoring `request`'s prompt on an empty row. True when nothing is left to feed (a one-token prompt). */
  add(row: number, request: ActiveRequest): boolean {
    if (request.promptIds.length <= 1) return true;
    this.scoring.set(row, request);
    return false;
  }

  /** Stops scoring a row (its request ended); a pass running over it still records its ids. */
  remove(row: number): void {
    this.scoring.delete(row);
  }

  /** One chunk (at most `maxChunk` ids) of every prompt being scored. */
  async step(maxChunk: number): Promise<ScoreStep[]> {
    const byLength = new Map<number, Map<number, readonly number[]>>();
    for (const [row, request] of [...this.scoring].sort(([a], [b]) => a - b)) {
      const done = this.cache.lengths[row]!;
      const ids = request.promptIds.slice(done, Math.min(done + maxChunk, request.promptIds.length - 1));
      const group = byLength.get(ids.length) ?? new Map<number, readonly number[]>();
      byLength.set(ids.length, group.set(row, ids));
    }
    const steps: ScoreStep[] = [];
    for (const feeds of byLength.values()) {
      for (const run of runs([...feeds.keys()])) steps.push(...(await this.pass(run, feeds)));
    }
    return steps;
  }

  /** One forward pass over the cache rows first..last, scoring each member's chunk. */
  private async pass(members: readonly number[], feeds: ReadonlyMap<number, readonly number[]>): Promise<ScoreStep[]> {
    const first = members[0]!;
    const count = members[members.length - 1]! - first + 1;
    const length = feeds.get(first)!.length;
    const requests = new Map(members.map((row) => [row, this.scoring.get(row)!]));
    const starts = new Map(members.map((row) => [row, this.cache.lengths[row]!]));
    const ids: (readonly number[])[] = [];
    const active: boolean[] = [];
    for (let row = first; row < first + count; row++) {
      ids.push(feeds.get(row) ?? new Array<number>(length).fill(0));
      active.push(feeds.has(row));
    }
    let logits: Float32Array;
    try {
      logits = (await this.model.forward(ids, this.cache.rows(count, first), count === 1 ? {} : { active })).data;
    } catch (error) {
      for (const row of members) if (this.scoring.get(row) === requests.get(row)) this.scoring.delete(row);
      return members.map((row) => ({ row, fed: feeds.get(row)!, scored: [], done: true, error }));
    }
    const vocabSize = this.model.config.vocabSize;
    return members.map((row) => {
      const request = requests.get(row)!;
      const fed = feeds.get(row)!;
      // Ended while the pass ran: the cache got the ids, no one wants the scores.
      if (this.scoring.get(row) !== request) return { row, fed, scored: [], done: false };
      const start = starts.get(row)!;
      const top = request.promptLogprobs ?? 0;
      const scored = fed.map((_, t) => {
        const offset = ((row - first) * length + t) * vocabSize;
        return scoreToken(logits.subarray(offset, offset + vocabSize), request.promptIds[start + t + 1]!, top, this.vocabulary);
      });
      const done = start + length >= request.promptIds.length - 1;
      if (done) this.scoring.delete(row);
      return { row, fed, scored, done };
    });
  }
}

/** Ascending rows split into runs spanning at most MAX_SPAN_PER_MEMBER rows per member. */
function runs(rows: readonly number[]): number[][] {
  const result: number[][] = [];
  let current: number[] | undefined;
  for (const row of rows) {
    if (current && row - current[0]! + 1 <= MAX_SPAN_PER_MEMBER * (current.length + 1)) {
      current.push(row);
    } else {
      current = [row];
      result.push(current);
    }
  }
  return result;
}
