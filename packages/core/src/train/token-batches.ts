// Batches for language-model training from one long stream of token ids: B windows of T + 1
// consecutive ids at random offsets drawn from a seeded Random. The sampler's whole state is the
// seed and the step, so batch n is the same on every run and after a resume.
import { InvalidArgumentError } from "../errors.js";
import { HostTensor } from "../tensor/host-tensor.js";
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

/**
 * A language-modelling batch from rows of T + 1 ids (tokenBatch's): `ids` the first T, `targets`
 * the last T, and a `mask` [B, T] that counts every target unless given.
 */
export function languageModelBatch(rows: readonly (readonly number[])[], mask?: readonly (readonly number[])[]): Record<"ids" | "targets" | "mask", HostTensor> {
  const B = rows.length;
  const T = (rows[0]?.length ?? 1) - 1;
  if (B === 0 || T < 1 || rows.some((row) => row.length !== T + 1)) throw new InvalidArgumentError("rows", "expected a non-empty rectangular batch of rows of at least 2 ids");
  if (mask && (mask.length !== B || mask.some((row) => row.length !== T))) throw new InvalidArgumentError("mask", `expected ${B} rows of ${T} values`);
  return {
    ids: HostTensor.int64([B, T], rows.flatMap((row) => row.slice(0, T))),
    targets: HostTensor.int64([B, T], rows.flatMap((row) => row.slice(1))),
    mask: HostTensor.float32([B, T], mask ? mask.flat() : new Array<number>(B * T).fill(1)),
  };
}
