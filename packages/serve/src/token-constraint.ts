// A request's JSON constraint as core's TokenConstraint, which the decoder applies before each
// draw: the tokens the grammar allows within the remaining budget, plus the stop tokens once the
// JSON may end there.
import type { TokenConstraint } from "@gemma-ts/core";
import type { JsonConstraint } from "./json-constraint.js";

export class JsonTokenConstraint implements TokenConstraint {
  constructor(
    private readonly json: JsonConstraint,
    private readonly stopTokens: readonly number[],
  ) {}

  mask(logits: Float32Array, remaining: number): Float32Array | undefined {
    const allowed = this.json.allowedRuns(remaining);
    const stops = this.json.canEnd ? this.stopTokens.filter((id) => id < logits.length) : [];
    if (allowed.length + stops.length === 0) {
      // Complete JSON that nothing may extend and no stop token to end it with (a top-level
      // number at its digit limit, say): it ends here.
      if (this.json.canEnd) return undefined;
      throw new Error("the JSON constraint allows no token"); // the budget rule rules this out
    }
    const out = new Float32Array(logits.length).fill(Number.NEGATIVE_INFINITY);
    for (const run of allowed) for (const id of run) out[id] = logits[id]!;
    for (const id of stops) out[id] = logits[id]!;
    return out;
  }

  accept(token: number): boolean {
    this.json.accept(token);
    return this.json.done;
  }
}
