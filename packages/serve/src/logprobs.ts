// Log-probabilities as OpenAI reports them: the chosen token's and the top alternatives', from the
// model's own distribution over one row of logits (before temperature, truncation or a JSON mask).
import type { TokenLogprob } from "./types.js";
import type { TokenVocabulary } from "./vocabulary.js";

export function tokenLogprob(logits: Float32Array, token: number, top: number, vocabulary: TokenVocabulary): TokenLogprob {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of logits) if (value > max) max = value;
  let total = 0;
  for (const value of logits) total += Math.exp(value - max);
  const logNormalizer = max + Math.log(total);
  const entry = (id: number) => ({ ...vocabulary.display(id), logprob: logits[id]! - logNormalizer });
  return { ...entry(token), topLogprobs: topIds(logits, top).map(entry) };
}

/** The `k` largest entries' indices, largest first, ties to the lower index (one pass, k small). */
function topIds(values: Float32Array, k: number): number[] {
  const best: number[] = [];
  if (k <= 0) return best;
  for (let id = 0; id < values.length; id++) {
    const value = values[id]!;
    if (best.length === k && value <= values[best[k - 1]!]!) continue;
    let at = best.length;
    while (at > 0 && value > values[best[at - 1]!]!) at--;
    best.splice(at, 0, id);
    if (best.length > k) best.pop();
  }
  return best;
}
