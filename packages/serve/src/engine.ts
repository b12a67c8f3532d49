// The serving engine: continuous batching over one KV cache of maxBatchSize rows. A scheduler
// loop runs while there is work: each turn it gives every waiting request a free row, runs one
// chunk (at most maxPrefillChunk tokens) of each prompt still prefilling, then advances every
// decoding row by one token. Each of those is a forward pass over a run of neighbouring cache rows
// (batch-runs.ts), so a burst of equal-length prompts prefills in one pass and decode runs at the
// size of the busy rows, not the pool. A long prompt is prefilled over several turns, so it cannot
// stall the streams already decoding. The model compiles one graph for every shape, so chunks and
// batch sizes cost no compiles. Requests join and leave between steps; a finished or aborted
// request frees its row at once. The loop yields to the event loop between turns, so an HTTP
// server stays responsive.
import { KVCache, type CausalLM } from "@gemma-ts/core";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { ActiveRequest } from "./active-request.js";
import { type BatchRun, batchRuns } from "./batch-runs.js";
import {
  EngineClosedError,
  EngineFailureError,
  EngineOverloadedError,
  InvalidOptionsError,
  InvalidRequestError,
  RequestAbortedError,
} from "./errors.js";
import { ConstraintGrammar, JsonConstraint } from "./json-constraint.js";
import { compileSchema } from "./json-schema.js";
import { RowPool } from "./row-pool.js";
import type { Completion, CompletionRequest, EngineOptions, EngineStats } from "./types.js";
import { validateRequest } from "./validate-request.js";
import { TokenVocabulary } from "./vocabulary.js";

/** Compiled schemas kept (with their memoized token masks), least recently used evicted. */
const MAX_GRAMMARS = 32;

export class Engine {
  readonly maxBatchSize: number;
  readonly contextLength: number;
  readonly maxPrefillChunk: number;
  readonly vocabulary: TokenVocabulary;

  private readonly model: CausalLM;
  private readonly cache: KVCache;
  private readonly rows: RowPool<ActiveRequest>;
  private readonly queue: ActiveRequest[] = [];
  private readonly maxQueueSize: number;
  private readonly defaultStopTokens: readonly number[];
  private readonly grammars = new Map<string, ConstraintGrammar>();
  private loop: Promise<void> | undefined;
  private closed = false;

  constructor(options: EngineOptions) {
    const { model, tokenizer } = options;
    const maxPositions = model.config.maxPositionEmbeddings;
    this.maxBatchSize = options.maxBatchSize ?? 8;
    this.contextLength = options.contextLength ?? maxPositions;
    this.maxPrefillChunk = options.maxPrefillChunk ?? 128;
    this.maxQueueSize = options.maxQueueSize ?? Number.POSITIVE_INFINITY;
    const option = (field: string, value: number, min: number, max: number) => {
      if (!Number.isInteger(value) || value < min || value > max) throw new InvalidOptionsError(field, `expected an integer in [${min}, ${max}], got ${value}`);
    };
    option("maxBatchSize", this.maxBatchSize, 1, 4096);
    option("contextLength", this.contextLength, 2, maxPositions);
    option("maxPrefillChunk", this.maxPrefillChunk, 1, 1 << 20);
    if (this.maxQueueSize !== Number.POSITIVE_INFINITY) option("maxQueueSize", this.maxQueueSize, 0, Number.MAX_SAFE_INTEGER);
    this.model = model;
    this.vocabulary = new TokenVocabulary(tokenizer, model.config.vocabSize);
    this.cache = new KVCache(model.config, { batchSize: this.maxBatchSize, capacity: this.contextLength });
    this.rows = new RowPool(this.cache);
    this.defaultStopTokens = defaultStops(tokenizer);
  }

  /**
   * Queues a request; its chunks stream as it decodes. Throws at once (a ServeError) for a bad
   * request, a prompt that does not fit, a schema it cannot enforce, a full queue, an aborted
   * signal or a closed engine; later failures surface through the returned Completion.
   */
  complete(request: CompletionRequest): Completion {
    if (this.closed) throw new EngineClosedError();
    validateRequest(request, this.model.config.vocabSize, this.contextLength);
    const maxTokens = Math.min(request.maxTokens, this.contextLength - request.promptIds.length);
    const constraint = this.constraintFor(request, maxTokens);
    if (request.signal?.aborted) throw new RequestAbortedError(request.signal.reason);
    if (this.queue.length >= this.maxQueueSize) throw new EngineOverloadedError(this.maxQueueSize);

    const active: ActiveRequest = new ActiveRequest({
      request,
      maxTokens,
      stopTokens: request.stopTokens ?? this.defaultStopTokens,
      constraint,
      vocabulary: this.vocabulary,
      onReaderGone: () => this.cancel(active, new RequestAbortedError("the reader stopped iterating")),
    });
    const signal = request.signal;
    if (signal) {
      const onAbort = (): void => this.cancel(active, new RequestAbortedError(signal.reason));
      signal.addEventListener("abort", onAbort, { once: true });
      const detach = (): void => signal.removeEventListener("abort", onAbort);
      active.completion.usage.then(detach, detach);
    }
    this.queue.push(active);
    this.wake();
    return active.completion;
  }

  stats(): EngineStats {
    return { running: this.rows.busy, queued: this.queue.length, maxBatchSize: this.maxBatchSize };
  }

  /** Forgets the prompts cached in idle rows: the next requests prefill from scratch. */
  clearPrefixCache(): void {
    this.rows.clear();
  }

  /**
   * Stops taking requests. By default ends the running and queued ones with EngineClosedError;
   * with `drain`, lets them finish. Resolves when no forward pass is running any more. The
   * model is the caller's to dispose.
   */
  async close(options: { drain?: boolean } = {}): Promise<void> {
    this.closed = true;
    if (!options.drain) {
      for (const request of this.queue.splice(0)) request.fail(new EngineClosedError());
      for (let row = 0; row < this.rows.size; row++) {
        const owner = this.rows.owner(row);
        if (owner) this.cancel(owner, new EngineClosedError());
      }
    }
    await this.loop;
  }

  private cancel(request: ActiveRequest, error: unknown): void {
    if (request.ended) return;
    const queued = this.queue.indexOf(request);
    if (queued >= 0) this.queue.splice(queued, 1);
    for (let row = 0; row < this.rows.size; row++) if (this.rows.owner(row) === request) this.rows.release(row);
    request.fail(error);
  }

  private constraintFor(request: CompletionRequest, maxTokens: number): JsonConstraint | undefined {
    const format = request.responseFormat;
    if (format === undefined) return undefined;
    let schema: object | undefined;
    if (format.type === "json_schema") {
      if (typeof format.schema !== "object" || format.schema === null) throw new InvalidRequestError("responseFormat.schema", "expected a JSON Schema object");
      schema = format.schema;
    } else if (format.type !== "json_object") {
      throw new InvalidRequestError("responseFormat.type", `expected json_object or json_schema, got ${JSON.stringify((format as { type: unknown }).type)}`);
    }
    const key = schema === undefined ? "" : JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (grammar) {
      this.grammars.delete(key);
    } else {
      grammar = new ConstraintGrammar(compileSchema(schema), this.vocabulary);
      if (this.grammars.size >= MAX_GRAMMARS) this.grammars.delete(this.grammars.keys().next().value!);
    }
    this.grammars.set(key, grammar);
    const constraint = new JsonConstraint(grammar);
    if (constraint.closingTokens > maxTokens) {
      throw new InvalidRequestError("maxTokens", `${maxTokens} tokens cannot hold the shortest JSON the schema allows (${constraint.closingTokens} tokens)`);
    }
    return constraint;
  }

  private wake(): void {
    this.loop ??= this.run();
  }

  /** The scheduler: admit every waiting request, prefill a chunk each, step the batch, yield; until no work is left. */
  private async run(): Promise<void> {
    try {
      // Start on a later tick, so `this.loop` is set before the loop can find no work and end.
      await nextTick();
      for (;;) {
        while (this.queue.length > 0 && this.rows.hasFree()) this.admit(this.queue.shift()!);
        await this.prefillStep();
        if (this.rows.busy > 0) await this.decodeStep();
        if (this.queue.length === 0 && this.rows.busy === 0) break;
        await nextTick();
      }
    } catch (error) {
      // Model failures are handled per step; anything else is a bug: fail every request rather than hang.
      const failure = new EngineFailureError(error);
      for (const request of this.queue.splice(0)) request.fail(failure);
      for (let row = 0; row < this.rows.size; row++) {
        const owner = this.rows.owner(row);
        if (owner) this.fail(owner, row, failure);
        this.rows.forget(row);
      }
    } finally {
      this.loop = undefined;
    }
  }

  /** Takes a row for `request`; the prefix its cache already holds is reused. */
  private admit(request: ActiveRequest): void {
    const { reused } = this.rows.acquire(request.promptIds, request);
    request.cachedTokens = reused;
  }

  /**
   * One chunk of every prompt still prefilling (its row's cache holds the prompt's first tokens);
   * a request whose prompt is complete samples its first token. Chunks of equal length on nearby
   * rows share a forward pass, so a burst of arrivals costs one pass rather than one each.
   */
  private async prefillStep(): Promise<void> {
    const byLength = new Map<number, Map<number, Feed>>();
    for (let row = 0; row < this.rows.size; row++) {
      const request = this.rows.owner(row);
      if (!request || request.ended || request.lastToken >= 0) continue;
      const done = this.cache.lengths[row]!;
      const ids = request.promptIds.slice(done, done + this.maxPrefillChunk);
      const group = byLength.get(ids.length) ?? new Map<number, Feed>();
      group.set(row, { request, ids });
      byLength.set(ids.length, group);
    }
    for (const group of byLength.values()) {
      for (const run of batchRuns([...group.keys()])) {
        const logits = await this.forwardRun(run, group);
        for (const [row, rowLogits] of logits) {
          const { request } = group.get(row)!;
          // Aborted while prefilling: the row is free already, and keeps the prefix computed so far.
          if (request.ended || this.rows.owner(row) !== request) continue;
          if (this.cache.lengths[row] === request.promptIds.length) this.sample(request, row, rowLogits);
        }
      }
    }
  }

  /** One decode step: every decoding row feeds its last token, nearby rows in one forward pass. */
  private async decodeStep(): Promise<void> {
    const feeds = new Map<number, Feed>();
    for (let row = 0; row < this.rows.size; row++) {
      const request = this.rows.owner(row);
      if (request !== undefined && !request.ended && request.lastToken >= 0) feeds.set(row, { request, ids: [request.lastToken] });
    }
    for (const run of batchRuns([...feeds.keys()])) {
      const logits = await this.forwardRun(run, feeds);
      for (const [row, rowLogits] of logits) {
        const { request } = feeds.get(row)!;
        // Aborted during the step: its row is free already (the cache still got this token).
        if (request.ended || this.rows.owner(row) !== request) continue;
        this.sample(request, row, rowLogits);
      }
    }
  }

  /**
   * One forward pass over the cache rows of `run`: its members feed their ids (all of one
   * length), the other rows ride along inactive. Returns each member's logits at its last new
   * position; on a model failure the members fail and nothing is returned.
   */
  private async forwardRun(run: BatchRun, feeds: ReadonlyMap<number, Feed>): Promise<Map<number, Float32Array>> {
    const length = feeds.get(run.members[0]!)!.ids.length;
    const idle = new Array<number>(length).fill(0);
    const ids: (readonly number[])[] = [];
    const active: boolean[] = [];
    for (let row = run.first; row < run.first + run.count; row++) {
      const feed = feeds.get(row);
      ids.push(feed?.ids ?? idle);
      active.push(feed !== undefined);
    }
    this.rows.writingTo(run.members);
    let logits: Float32Array;
    try {
      const cache = this.cache.rows(run.count, run.first);
      logits = (await this.model.forward(ids, cache, run.count === 1 ? {} : { active })).data;
    } catch (error) {
      for (const row of run.members) {
        this.rows.forget(row);
        this.fail(feeds.get(row)!.request, row, new EngineFailureError(error));
      }
      return new Map();
    }
    const vocabSize = this.model.config.vocabSize;
    const out = new Map<number, Float32Array>();
    for (const row of run.members) {
      this.rows.appended(row, feeds.get(row)!.ids);
      const end = (row - run.first + 1) * length * vocabSize;
      out.set(row, logits.subarray(end - vocabSize, end));
    }
    return out;
  }

  private sample(request: ActiveRequest, row: number, logits: Float32Array): void {
    let finished: boolean;
    try {
      finished = request.take(logits);
    } catch (error) {
      this.fail(request, row, new EngineFailureError(error));
      return;
    }
    if (finished) this.rows.release(row);
  }

  private fail(request: ActiveRequest, row: number, error: unknown): void {
    if (this.rows.owner(row) === request) this.rows.release(row);
    request.fail(error);
  }
}

/** What one row feeds a forward pass. */
interface Feed {
  request: ActiveRequest;
  ids: readonly number[];
}

function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function defaultStops(tokenizer: Tokenizer): number[] {
  const { eos, endOfTurn } = tokenizer.special;
  return [eos, endOfTurn].filter((id): id is number => id !== undefined);
}
