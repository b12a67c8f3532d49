// Log-probabilities as the endpoints report them: a token shown as text (LogprobToken), and a
// prompt token scored against one row of the model's logits. The logits are the model's own
// distribution (soft-capped, temperature 1). The log-softmax subtracts the row's maximum before
// exponentiating, so no logit overflows, and sums in float64, so a 256k-entry row loses nothing
// to rounding beyond the float32 logits themselves.
import { topIndices } from "@gemma-ts/core";
import type { LogprobToken, PromptTokenLogprob } from "./types.js";
import type { TokenVocabulary } from "./vocabulary.js";

export function logprobToken(vocabulary: TokenVocabulary, id: number): LogprobToken {
  const shown: LogprobToken = { id, ...vocabulary.display(id) };
  if (vocabulary.isSpecial(id)) shown.special = true;
  return shown;
}

/** log(sum(exp(row))), stable. */
export function logSumExp(row: Float32Array): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of row) if (value > max) max = value;
  if (max === Number.NEGATIVE_INFINITY) return max;
  let total = 0;
  for (const value of row) total += Math.exp(value - max);
  return max + Math.log(total);
}

/**
 * Prompt token `id` scored at the position whose logits are `row`: its log-probability, its rank
 * (1 + the tokens strictly more likely, as vLLM counts) and the `top` most likely tokens.
 */
export function scoreToken(row: Float32Array, id: number, top: number, vocabulary: TokenVocabulary): PromptTokenLogprob {
  const normalizer = logSumExp(row);
  const logit = row[id]!;
  let above = 0;
  for (const value of row) if (value > logit) above++;
  return {
    ...logprobToken(vocabulary, id),
    logprob: logit - normalizer,
    rank: above + 1,
    topLogprobs: topIndices(row, top).map((best) => ({ ...logprobToken(vocabulary, best), logprob: row[best]! - normalizer })),
  };
}

/** The first prompt token: nothing precedes it, so it has no log-probability. */
export function unscoredToken(id: number, vocabulary: TokenVocabulary): PromptTokenLogprob {
  return { ...logprobToken(vocabulary, id), logprob: null, rank: null, topLogprobs: [] };
}
