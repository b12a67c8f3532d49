// Batches for language-model training from one long stream of token ids: B windows of T + 1
// consecutive ids at random offsets drawn from a seeded Random. The sampler's whole state is the
// seed and the step, so batch n is the same on every run and after a resume.
import { InvalidArgumentError } from "../errors.js";
import { Random } from "../tensor/random.js";

export interface TokenBatchOptions {
  batchSize: number;
  /** Tokens the model reads per row; rows hold one more (the last target). */
  sequenceLength: number;
  seed: number;
}

/** The batch for `step`: B rows of T + 1 ids. Pure: depends only on the tokens, options and step. */
export function tokenBatch(tokens: ArrayLike<number>, options: TokenBatchOptions, step: number): number[][] {
  const span = options.sequenceLength + 1;
  if (tokens.length < span) {
    throw new InvalidArgumentError("tokens", `${tokens.length} tokens cannot fill one row of ${span}`);
  }
  const random = new Random((options.seed * 1_000_003 + step) >>> 0);
  return Array.from({ length: options.batchSize }, () => {
    const start = Math.floor(random.uniform() * (tokens.length - span + 1));
    return Array.from({ length: span }, (_, t) => tokens[start + t]!);
  });
}
