// One request inside the engine: what the decoder runs for it (prompt, budget, sampling with its
// own seed, stop tokens, the JSON constraint), its text stream, and the channel its chunks go out
// on. The scheduler hands it what the decoder sampled for it each step; `take` turns that into a
// chunk and says whether the request has finished.
import type { FinishReason, SampledToken, SequenceRequest } from "@gemma-ts/core";
import { ChunkChannel } from "./chunk-channel.js";
import type { JsonConstraint } from "./json-constraint.js";
import { logprobToken, unscoredToken } from "./logprobs.js";
import { TextStream } from "./text-stream.js";
import { JsonTokenConstraint } from "./token-constraint.js";
import type { Completion, CompletionChunk, CompletionRequest, CompletionUsage, PromptTokenLogprob, TokenLogprob } from "./types.js";
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
  /** What the decoder runs for this request. */
  readonly sequence: SequenceRequest;
  /** Prompt tokens found in the row's cache. */
  cachedTokens = 0;
  /** Finished, failed or aborted: no more chunks. */
  ended = false;
  readonly completion: Completion;
  /** Alternatives per scored prompt token; undefined when the prompt is not scored. */
  readonly promptLogprobs: number | undefined;

  private completionTokens = 0;
  private readonly stopTokens: ReadonlySet<number>;
  private readonly text: TextStream;
  private readonly vocabulary: TokenVocabulary;
  private readonly topLogprobs: number | undefined;
  private readonly channel: ChunkChannel<CompletionChunk>;
  private settleUsage!: { resolve: (usage: CompletionUsage) => void; reject: (error: unknown) => void };
  private pendingIds: number[] = [];
  private pendingLogprobs: TokenLogprob[] = [];
  private readonly maxTokens: number;
  private scoredPrompt: PromptTokenLogprob[] = [];

  constructor(options: ActiveRequestOptions) {
    const { request, constraint } = options;
    this.promptIds = [...request.promptIds]; // the caller may reuse its array
    // Without a seed each request draws its own, as OpenAI's API does; with one, it is reproducible.
    const seed = request.sampling?.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.sequence = {
      promptIds: this.promptIds,
      maxNewTokens: options.maxTokens,
      sampling: { ...request.sampling, seed },
      stopTokens: options.stopTokens,
      topLogprobs: request.topLogprobs ?? 0,
      constraint: constraint && new JsonTokenConstraint(constraint, options.stopTokens),
    };
    this.stopTokens = new Set(options.stopTokens);
    // Stop strings could cut constrained JSON short, so they only apply to free text.
    this.text = new TextStream(options.vocabulary, constraint ? [] : (request.stop ?? []));
    this.vocabulary = options.vocabulary;
    this.topLogprobs = request.topLogprobs;
    this.promptLogprobs = request.promptLogprobs;
    this.maxTokens = options.maxTokens;
    if (this.promptLogprobs !== undefined) this.scoredPrompt.push(unscoredToken(this.promptIds[0]!, this.vocabulary));
    this.channel = new ChunkChannel(options.onReaderGone);
    const usage = new Promise<CompletionUsage>((resolve, reject) => (this.settleUsage = { resolve, reject }));
    // Rejections of `usage` are reported through `chunks` too; no one need await both.
    usage.catch(() => undefined);
    this.completion = { chunks: this.channel, usage };
  }

  /**
   * Emits what the decoder sampled for this request: a token, and why the sequence ended if it
   * did (a constraint may end it without a token). A stop string ends it too. True when done.
   */
  take(step: { token?: SampledToken; finishReason?: FinishReason }): boolean {
    let finishReason = step.finishReason;
    let text = "";
    if (step.token) {
      const { token } = step.token;
      this.completionTokens++;
      this.pendingIds.push(token);
      if (this.topLogprobs !== undefined) this.pendingLogprobs.push(this.logprob(step.token));
      if (!this.stopTokens.has(token)) {
        text = this.text.push(token);
        if (this.text.stopped) finishReason = "stop";
      }
    }
    if (finishReason) text += this.text.finish();
    if (text.length > 0 || finishReason) this.emit(text, finishReason);
    if (finishReason) this.finish();
    return finishReason !== undefined;
  }

  /** Adds prompt tokens scored, in order. */
  scored(tokens: readonly PromptTokenLogprob[]): void {
    this.scoredPrompt.push(...tokens);
  }

  /**
   * Every prompt token is scored: emits them. True when that ends the request (maxTokens 0, a
   * score-only request: finishReason "length", as nothing more was allowed).
   */
  promptScored(): boolean {
    const chunk: CompletionChunk = { text: "", tokenIds: [], promptLogprobs: this.scoredPrompt };
    this.scoredPrompt = [];
    const done = this.maxTokens === 0;
    if (done) chunk.finishReason = "length";
    this.channel.push(chunk);
    if (done) this.finish();
    return done;
  }

  /** Ends the request with an error: the reader's loop throws it, `usage` rejects with it. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.channel.fail(error);
    this.settleUsage.reject(error);
  }

  get usage(): CompletionUsage {
    return { promptTokens: this.promptIds.length, completionTokens: this.completionTokens, cachedTokens: this.cachedTokens };
  }

  /** The sampled token's log-probability and the top alternatives, as text. */
  private logprob(sampled: SampledToken): TokenLogprob {
    const entry = ({ token, logprob }: { token: number; logprob: number }) => ({ ...logprobToken(this.vocabulary, token), logprob });
    return { ...entry(sampled), topLogprobs: (sampled.topLogprobs ?? []).map(entry) };
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
