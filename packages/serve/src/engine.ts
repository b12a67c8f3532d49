// The serving engine: continuous batching over one KV cache of maxBatchSize rows. A scheduler
// loop runs while there is work: each turn it gives every waiting request a free row (reusing a
// cached prefix of its prompt, row-pool.ts), runs one chunk (at most maxPrefillChunk tokens) of
// each prompt still prefilling, then advances every decoding row by one token. The forward passes
// and the sampling are core's BatchDecoder: passes over runs of neighbouring cache rows, so a burst
// of equal-length prompts prefills in one pass and decode runs at the size of the busy rows, not
// the pool; each request samples with its own seeded sampler. What the decoder samples the engine
// turns into streamed text. A long prompt is prefilled over several turns, so it cannot stall the
// streams already decoding. The model compiles one graph for every shape, so chunks and batch
// sizes cost no compiles. Requests join and leave between steps; a finished or aborted request
// frees its row at once. The loop yields to the event loop between turns, so an HTTP server stays
// responsive. A request that scores its prompt (promptLogprobs) starts on an empty row, where the
// PromptScorer feeds the prompt a chunk per turn keeping every position's logits, before the
// decoder takes the row over to generate: scoring runs in the same loop as everything else, so
// the model is never used by two passes at once.
import { BatchDecoder, KVCache, type CausalLM, type RowStep } from "@gemma-ts/core";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { ActiveRequest } from "./active-request.js";
import {
  EngineClosedError,
  EngineFailureError,
  EngineOverloadedError,
  InvalidOptionsError,
  InvalidRequestError,
  RequestAbortedError,
} from "./errors.js";
import { ConstraintGrammar, JsonConstraint } from "./json-constraint.js";
import { checkSchemaDocument, compileSchema } from "./json-schema.js";
import { PromptScorer, type ScoreStep } from "./prompt-scorer.js";
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
  private readonly rows: RowPool<ActiveRequest>;
  private readonly decoder: BatchDecoder;
  private readonly scorer: PromptScorer;
  private readonly queue: ActiveRequest[] = [];
  private readonly maxQueueSize: number;
  private readonly defaultStopTokens: readonly number[];
  private readonly grammars = new Map<string, ConstraintGrammar>();
  private loop: Promise<void> | undefined;
  /** clearPrefixCache() was called while the scheduler ran: done between its forward passes. */
  private clearRequested = false;
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
    const cache = new KVCache(model.config, { batchSize: this.maxBatchSize, capacity: this.contextLength });
    this.rows = new RowPool(cache);
    this.decoder = new BatchDecoder(model, cache);
    this.scorer = new PromptScorer(model, cache, this.vocabulary);
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
    // A score-only request generates nothing, so there is nothing to constrain.
    const constraint = maxTokens > 0 ? this.constraintFor(request, maxTokens) : undefined;
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
    // A row freed during a forward pass (its request aborted) still gets that pass's ids: while
    // the scheduler runs, it clears between passes.
    if (this.loop) this.clearRequested = true;
    else this.rows.clear();
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
    for (let row = 0; row < this.rows.size; row++) if (this.rows.owner(row) === request) this.release(row);
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
    // Bounded before anything walks it (JSON.stringify recurses): a typed error, not a stack overflow.
    if (schema !== undefined) checkSchemaDocument(schema);
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
        this.clearIfRequested();
        while (this.queue.length > 0 && this.rows.hasFree()) this.admit(this.queue.shift()!);
        // Scoring first: a prompt scored this turn has its last token prefilled in the same turn.
        if (this.scorer.size > 0) this.deliverScores(await this.scorer.step(this.maxPrefillChunk));
        this.deliver(await this.decoder.prefill(this.maxPrefillChunk));
        if (this.decoder.active > 0) this.deliver(await this.decoder.decode());
        if (this.queue.length === 0 && this.rows.busy === 0) break;
        await nextTick();
      }
    } catch (error) {
      // Model failures are reported per row; anything else is a bug: fail every request rather than hang.
      const failure = new EngineFailureError(error);
      for (const request of this.queue.splice(0)) request.fail(failure);
      for (let row = 0; row < this.rows.size; row++) {
        const owner = this.rows.owner(row);
        if (owner) this.fail(owner, row, failure);
        this.decoder.end(row);
        this.scorer.remove(row);
        this.rows.forget(row);
      }
    } finally {
      this.loop = undefined;
      this.clearIfRequested();
    }
  }

  /** Takes a row for `request`; the prefix its cache already holds is reused, unless the prompt is to be scored. */
  private admit(request: ActiveRequest): void {
    if (request.promptLogprobs !== undefined) {
      // A one-token prompt shares no reusable prefix with any row: the pool hands out an empty
      // row (or the least recently used one, emptied), keeping the prefixes other prompts reuse.
      const { row } = this.rows.acquire(request.promptIds.slice(0, 1), request);
      if (this.scorer.add(row, request)) this.promptScored(row, request);
      return;
    }
    const { row, reused } = this.rows.acquire(request.promptIds, request);
    request.cachedTokens = reused;
    this.decoder.start(row, request.sequence);
  }

  /** Hands each request the prompt tokens a scoring step scored; a request whose prompt is scored moves on to generate. */
  private deliverScores(steps: readonly ScoreStep[]): void {
    for (const step of steps) {
      const request = this.landed(step);
      if (!request || request.ended) continue;
      request.scored(step.scored);
      if (step.done) this.promptScored(step.row, request);
    }
  }

  /** Emits the scored prompt; then the request ends (score only) or the decoder generates from the row's cache. */
  private promptScored(row: number, request: ActiveRequest): void {
    if (request.promptScored()) this.release(row);
    else this.decoder.start(row, request.sequence);
  }

  /**
   * Hands each request what a decoder step sampled for it. Every row the step fed records its ids
   * for prefix reuse, including a row whose request was aborted during the step.
   */
  private deliver(steps: readonly RowStep[]): void {
    for (const step of steps) {
      const request = this.landed(step);
      if (!request || (step.token === undefined && step.finishReason === undefined)) continue;
      if (request.take(step)) this.release(step.row);
    }
  }

  /**
   * A forward pass over a row has landed: on a failure the row is forgotten and its request fails
   * (undefined is returned); otherwise the fed ids are recorded for prefix reuse and the row's
   * current owner, if any, is returned.
   */
  private landed(step: { row: number; fed: readonly number[]; error?: unknown }): ActiveRequest | undefined {
    const request = this.rows.owner(step.row);
    if (step.error !== undefined) {
      this.rows.forget(step.row);
      if (request) this.fail(request, step.row, new EngineFailureError(step.error));
      return undefined;
    }
    this.rows.appended(step.row, step.fed);
    return request;
  }

  private clearIfRequested(): void {
    if (!this.clearRequested) return;
    this.clearRequested = false;
    this.rows.clear();
  }

  /** Frees a row: its sequence steps no more, its cached ids stay for reuse. */
  private release(row: number): void {
    this.rows.release(row);
    this.decoder.end(row);
    this.scorer.remove(row);
  }

  private fail(request: ActiveRequest, row: number, error: unknown): void {
    if (this.rows.owner(row) === request) this.release(row);
    request.fail(error);
  }
}

function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function defaultStops(tokenizer: Tokenizer): number[] {
  const { eos, endOfTurn } = tokenizer.special;
  return [eos, endOfTurn].filter((id): id is number => id !== undefined);
}
