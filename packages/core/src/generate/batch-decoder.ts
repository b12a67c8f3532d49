// The batched decoder: sequences on the rows of one KV cache, each at its own position, stepped
// together. A step feeds ids to the model over runs of neighbouring rows (batch-runs.ts), takes
// each row's logits at its last new position and hands them to that row's Sequence, which samples.
// prefill() feeds one chunk of every prompt still prefilling (a row whose prompt completes samples
// its first token); decode() feeds every decoding row its last token. Which sequence gets which
// row, and when to step, are the caller's: generateBatch() for rollouts, the serving engine (with
// admission, prefix reuse and streaming) for requests.
import { InvalidArgumentError } from "../errors.js";
import type { CausalLM } from "../models/causal-lm.js";
import type { KVCache } from "../models/gemma2/kv-cache.js";
import { type BatchRun, batchRuns } from "./batch-runs.js";
import type { SampledToken } from "./sampler.js";
import { type FinishReason, Sequence, type SequenceRequest } from "./sequence.js";

/** What a step did to one row. */
export interface RowStep {
  row: number;
  /** The ids this step appended to the row's cache: a prompt chunk, or the previous token. */
  fed: readonly number[];
  /** The token sampled; absent while the prompt is still prefilling and for a sequence ended meanwhile. */
  token?: SampledToken;
  /** Set on the step that ended the sequence. */
  finishReason?: FinishReason;
  /** The forward pass or the sampling failed: the sequence has ended, and the row's cache may not hold its ids. */
  error?: unknown;
}

export class BatchDecoder {
  private readonly sequences: (Sequence | undefined)[];
  /** A step is running: its passes are writing to the cache. */
  private stepping = false;

  constructor(
    readonly model: CausalLM,
    readonly cache: KVCache,
    /** How sparse a run of rows may be (batchRuns' maxSpanPerMember). */
    private readonly maxSpanPerMember = 2,
  ) {
    this.sequences = new Array<Sequence | undefined>(cache.batchSize).fill(undefined);
  }

  /** Sequences not finished or ended. */
  get active(): number {
    return this.sequences.reduce((count, sequence) => count + (sequence ? 1 : 0), 0);
  }

  /** The sequence running on a row, if any. */
  sequence(row: number): Sequence | undefined {
    return this.sequences[row];
  }

  /**
   * Starts a sequence on a free row. The row's cache must hold a prefix of the prompt (nothing,
   * or the ids of an earlier turn); if it holds the whole prompt, the last token is computed again,
   * since its logits give the first token.
   */
  start(row: number, request: SequenceRequest): Sequence {
    this.checkIdle();
    if (!Number.isInteger(row) || row < 0 || row >= this.sequences.length) {
      throw new InvalidArgumentError("row", `${row} is not a row of a batch of ${this.sequences.length}`);
    }
    if (this.sequences[row]) throw new InvalidArgumentError("row", `row ${row} is running a sequence`);
    const sequence = new Sequence(request);
    const prompt = sequence.promptIds.length;
    if (this.cache.lengths[row]! >= prompt) this.cache.truncate(row, prompt - 1);
    this.sequences[row] = sequence;
    return sequence;
  }

  /** Ends a row's sequence (aborted, or stopped by its caller): it is stepped no more. */
  end(row: number): void {
    this.sequences[row] = undefined;
  }

  /**
   * One chunk (at most `maxChunk` ids) of every prompt still prefilling. Chunks of equal length on
   * nearby rows share a forward pass, so a burst of arrivals costs one pass rather than one each.
   */
  async prefill(maxChunk = Number.POSITIVE_INFINITY): Promise<RowStep[]> {
    if (!(maxChunk >= 1)) throw new InvalidArgumentError("maxChunk", `expected at least one token, got ${maxChunk}`);
    const byLength = new Map<number, Map<number, readonly number[]>>();
    this.sequences.forEach((sequence, row) => {
      if (!sequence || sequence.lastToken >= 0) return;
      const done = this.cache.lengths[row]!;
      const ids = sequence.promptIds.slice(done, done + maxChunk);
      const group = byLength.get(ids.length) ?? new Map<number, readonly number[]>();
      byLength.set(ids.length, group.set(row, ids));
    });
    return this.step([...byLength.values()]);
  }

  /** One token for every decoding row: each feeds its last token. */
  async decode(): Promise<RowStep[]> {
    const feeds = new Map<number, readonly number[]>();
    this.sequences.forEach((sequence, row) => {
      if (sequence && sequence.lastToken >= 0) feeds.set(row, [sequence.lastToken]);
    });
    return this.step([feeds]);
  }

  /** The passes of one step, a group of rows feeding ids of one length at a time. */
  private async step(groups: readonly ReadonlyMap<number, readonly number[]>[]): Promise<RowStep[]> {
    this.checkIdle();
    this.stepping = true;
    try {
      const steps: RowStep[] = [];
      for (const feeds of groups) steps.push(...(await this.passes(feeds)));
      return steps;
    } finally {
      this.stepping = false;
    }
  }

  /** Feeds each row its ids (all of one length), a forward pass per run, and samples where a prompt is complete. */
  private async passes(feeds: ReadonlyMap<number, readonly number[]>): Promise<RowStep[]> {
    const sequences = new Map([...feeds.keys()].map((row) => [row, this.sequences[row]!]));
    const steps: RowStep[] = [];
    for (const run of batchRuns([...feeds.keys()], this.maxSpanPerMember)) {
      let logits: Float32Array;
      try {
        logits = await this.forward(run, feeds);
      } catch (error) {
        for (const row of run.members) {
          if (this.sequences[row] === sequences.get(row)) this.end(row);
          steps.push({ row, fed: feeds.get(row)!, error });
        }
        continue;
      }
      const vocabSize = this.model.config.vocabSize;
      const length = feeds.get(run.members[0]!)!.length;
      for (const row of run.members) {
        const step: RowStep = { row, fed: feeds.get(row)! };
        steps.push(step);
        const sequence = sequences.get(row)!;
        // Ended while the pass ran: the cache still got its ids, nothing is sampled.
        if (this.sequences[row] !== sequence || this.cache.lengths[row]! < sequence.promptIds.length) continue;
        const end = (row - run.first + 1) * length * vocabSize;
        try {
          const { token, finishReason } = sequence.next(logits.subarray(end - vocabSize, end));
          if (token) step.token = token;
          if (finishReason) step.finishReason = finishReason;
        } catch (error) {
          step.error = error;
        }
        if (sequence.finished || step.error !== undefined) this.end(row);
      }
    }
    return steps;
  }

  /** Steps write to the rows they feed when their passes land: starting or stepping meanwhile would interleave. */
  private checkIdle(): void {
    if (this.stepping) throw new InvalidArgumentError("decoder", "a step is running; start sequences and step between steps");
  }

  /** One forward pass over the cache rows of `run`; rows in it that feed nothing ride along inactive. */
  private async forward(run: BatchRun, feeds: ReadonlyMap<number, readonly number[]>): Promise<Float32Array> {
    const length = feeds.get(run.members[0]!)!.length;
    const idle = new Array<number>(length).fill(0);
    const ids: (readonly number[])[] = [];
    const active: boolean[] = [];
    for (let row = run.first; row < run.first + run.count; row++) {
      const fed = feeds.get(row);
      ids.push(fed ?? idle);
      active.push(fed !== undefined);
    }
    const cache = this.cache.rows(run.count, run.first);
    return (await this.model.forward(ids, cache, run.count === 1 ? {} : { active })).data;
  }
}
