// One request inside the engine: its sampler (own seeded RNG, so its tokens depend only on its own
// logits), penalty counts, text stream, JSON constraint, and the channel its chunks go out on.
// The scheduler hands it a row of logits per step; `take` samples a token, turns it into a chunk
// and says whether the request has finished.
import { Sampler } from "@gemma-ts/core";
import { ChunkChannel } from "./chunk-channel.js";
import type { JsonConstraint } from "./json-constraint.js";
import { tokenLogprob } from "./logprobs.js";
import { TextStream } from "./text-stream.js";
import type { Completion, CompletionChunk, CompletionRequest, CompletionUsage, TokenLogprob } from "./types.js";
import type { TokenVocabulary } from "./vocabulary.js";

export interface ActiveRequestOptions {
  request: CompletionRequest;
  /** maxTokens clamped to the context. */
  maxTokens: number;
  stopTokens: readonly number[];
  constraint: JsonConstraint | undefined;
  vocabulary: TokenVocabulary;
  /** Called when the reader stops iterating before the end. */
  onReaderGone: () => void;
}

export class ActiveRequest {
  readonly promptIds: readonly number[];
  readonly maxTokens: number;
  readonly generated: number[] = [];
  /** Prompt tokens found in the row's cache. */
  cachedTokens = 0;
  /** The last sampled token: the input of the next decode step. */
  lastToken = -1;
  /** Finished, failed or aborted: no more chunks. */
  ended = false;
  readonly completion: Completion;

  private readonly sampler: Sampler;
  private readonly counts = new Map<number, number>();
  private readonly stopTokens: ReadonlySet<number>;
  private readonly text: TextStream;
  private readonly constraint: JsonConstraint | undefined;
  private readonly vocabulary: TokenVocabulary;
  private readonly topLogprobs: number | undefined;
  private readonly channel: ChunkChannel<CompletionChunk>;
  private settleUsage!: { resolve: (usage: CompletionUsage) => void; reject: (error: unknown) => void };
  private pendingIds: number[] = [];
  private pendingLogprobs: TokenLogprob[] = [];

  constructor(options: ActiveRequestOptions) {
    const { request } = options;
    this.promptIds = [...request.promptIds]; // the caller may reuse its array
    this.maxTokens = options.maxTokens;
    // topLogprobs is computed here from the raw logits, so the sampler never sorts the vocabulary.
    // Without a seed each request draws its own, as OpenAI's API does; with one, it is reproducible.
    const seed = request.sampling?.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.sampler = new Sampler({ ...request.sampling, seed, topLogprobs: 0 });
    for (const id of request.promptIds) this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.stopTokens = new Set(options.stopTokens);
    this.constraint = options.constraint;
    // Stop strings could cut constrained JSON short, so they only apply to free text.
    this.text = new TextStream(options.vocabulary, this.constraint ? [] : (request.stop ?? []));
    this.vocabulary = options.vocabulary;
    this.topLogprobs = request.topLogprobs;
    this.channel = new ChunkChannel(options.onReaderGone);
    const usage = new Promise<CompletionUsage>((resolve, reject) => (this.settleUsage = { resolve, reject }));
    // Rejections of `usage` are reported through `chunks` too; no one need await both.
    usage.catch(() => undefined);
    this.completion = { chunks: this.channel, usage };
  }

  /** Samples the next token from its row of logits and emits it; true when the request is done. */
  take(logits: Float32Array): boolean {
    let row = logits;
    if (this.constraint) {
      const masked = this.masked(logits);
      if (!masked) {
        // Complete JSON that nothing may extend and no stop token to end it with (a top-level
        // number at its digit limit, say): end here.
        this.emit(this.text.finish(), "stop");
        this.finish();
        return true;
      }
      row = masked;
    }
    const sampled = this.sampler.sample(row, this.counts);
    const token = sampled.token;
    this.generated.push(token);
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
    this.lastToken = token;
    this.pendingIds.push(token);
    if (this.topLogprobs !== undefined) this.pendingLogprobs.push(tokenLogprob(logits, token, this.topLogprobs, this.vocabulary));

    let finishReason: CompletionChunk["finishReason"];
    let text = "";
    if (this.stopTokens.has(token)) {
      finishReason = "stop";
    } else {
      this.constraint?.accept(token);
      text = this.text.push(token);
      if (this.text.stopped || this.constraint?.done) finishReason = "stop";
    }
    if (!finishReason && this.generated.length >= this.maxTokens) finishReason = "length";
    if (finishReason) text += this.text.finish();
    if (text.length > 0 || finishReason) this.emit(text, finishReason);
    if (finishReason) this.finish();
    return finishReason !== undefined;
  }

  /** Ends the request with an error: the reader's loop throws it, `usage` rejects with it. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.channel.fail(error);
    this.settleUsage.reject(error);
  }

  get usage(): CompletionUsage {
    return { promptTokens: this.promptIds.length, completionTokens: this.generated.length, cachedTokens: this.cachedTokens };
  }

  /** The logits with every token the JSON constraint rules out at -Infinity; undefined if it allows none. */
  private masked(logits: Float32Array): Float32Array | undefined {
    const constraint = this.constraint!;
    const allowed = constraint.allowedTokens(this.maxTokens - this.generated.length);
    const stops = constraint.canEnd ? [...this.stopTokens].filter((id) => id < logits.length) : [];
    if (allowed.length + stops.length === 0) {
      if (constraint.canEnd) return undefined;
      throw new Error("the JSON constraint allows no token"); // the budget rule rules this out
    }
    const out = new Float32Array(logits.length).fill(Number.NEGATIVE_INFINITY);
    for (const id of allowed) out[id] = logits[id]!;
    for (const id of stops) out[id] = logits[id]!;
    return out;
  }

  private emit(text: string, finishReason: CompletionChunk["finishReason"]): void {
    const chunk: CompletionChunk = { text, tokenIds: this.pendingIds };
    if (this.topLogprobs !== undefined) chunk.logprobs = this.pendingLogprobs;
    if (finishReason) chunk.finishReason = finishReason;
    this.channel.push(chunk);
    this.pendingIds = [];
    this.pendingLogprobs = [];
  }

  private finish(): void {
    this.ended = true;
    this.channel.end();
    this.settleUsage.resolve(this.usage);
  }
}
