// One sequence being generated: its prompt, its own sampler (own seeded RNG, so its tokens depend
// only on its own logits, alone or batched with others), the token counts its penalties read, its
// stop tokens, its budget and an optional constraint. It turns the logits of its last position
// into the next token and says when it has finished; which cache row it runs on and when the
// model runs are the BatchDecoder's.
import { InvalidArgumentError } from "../errors.js";
import type { SamplingOptions } from "./logits-processors.js";
import { Sampler, type SampledToken } from "./sampler.js";

export type FinishReason = "stop" | "length";

/** Narrows what a sequence may sample next, e.g. to a grammar. */
export interface TokenConstraint {
  /**
   * The logits to draw from: a copy of `logits` with the tokens not allowed next at -Infinity
   * (`logits` itself is not to be changed). Undefined when the sequence is complete and nothing may
   * follow: it then ends ("stop") without another token. `remaining`: the tokens the budget still
   * allows, this one included.
   */
  mask(logits: Float32Array, remaining: number): Float32Array | undefined;
  /** Advances past a sampled token (never a stop token); true when the sequence is complete. */
  accept(token: number): boolean;
}

export interface SequenceRequest {
  /** At least one token (e.g. <bos>). */
  promptIds: readonly number[];
  maxNewTokens: number;
  /** Temperature defaults to 1 (0: greedy); the seed to 0. */
  sampling?: SamplingOptions & { seed?: number };
  /** The sequence ends after emitting one of these (e.g. <eos>, <end_of_turn>). */
  stopTokens?: readonly number[];
  /** Report this many most likely alternatives with each token. */
  topLogprobs?: number;
  constraint?: TokenConstraint;
}

/** What one sampling step gives: a token (absent when a constraint ended the sequence) and, on the last step, why it ends. */
export interface SequenceStep {
  token?: SampledToken;
  finishReason?: FinishReason;
}

export class Sequence {
  readonly promptIds: readonly number[];
  /** The generated ids, and log p of each under the model's distribution. */
  readonly tokens: number[] = [];
  readonly logprobs: number[] = [];
  finishReason: FinishReason | undefined;

  private readonly maxNewTokens: number;
  private readonly sampler: Sampler;
  private readonly counts = new Map<number, number>();
  private readonly stops: ReadonlySet<number>;
  private readonly constraint: TokenConstraint | undefined;

  constructor(request: SequenceRequest) {
    if (request.promptIds.length === 0) throw new InvalidArgumentError("promptIds", "the prompt needs at least one token (e.g. <bos>)");
    if (!Number.isInteger(request.maxNewTokens) || request.maxNewTokens < 1) {
      throw new InvalidArgumentError("maxNewTokens", `expected a positive integer, got ${request.maxNewTokens}`);
    }
    this.promptIds = [...request.promptIds]; // the caller may reuse its array
    this.maxNewTokens = request.maxNewTokens;
    this.sampler = new Sampler({ ...request.sampling, topLogprobs: request.topLogprobs ?? 0 });
    for (const id of this.promptIds) this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.stops = new Set(request.stopTokens ?? []);
    this.constraint = request.constraint;
  }

  /** The input of the next decode step: the last sampled token, -1 before the first. */
  get lastToken(): number {
    return this.tokens.length === 0 ? -1 : this.tokens[this.tokens.length - 1]!;
  }

  get finished(): boolean {
    return this.finishReason !== undefined;
  }

  /** Samples the next token from the logits of the last position fed. */
  next(logits: Float32Array): SequenceStep {
    let allowed: Float32Array | undefined;
    if (this.constraint) {
      allowed = this.constraint.mask(logits, this.maxNewTokens - this.tokens.length);
      if (!allowed) {
        this.finishReason = "stop";
        return { finishReason: "stop" };
      }
    }
    const token = this.sampler.sample(logits, this.counts, allowed);
    this.tokens.push(token.token);
    this.logprobs.push(token.logprob);
    this.counts.set(token.token, (this.counts.get(token.token) ?? 0) + 1);
    if (this.stops.has(token.token) || this.constraint?.accept(token.token)) this.finishReason = "stop";
    else if (this.tokens.length >= this.maxNewTokens) this.finishReason = "length";
    return this.finishReason ? { token, finishReason: this.finishReason } : { token };
  }
}
