// Fuzz target (run in a child process by @gemma-ts/fuzz): one response_format schema, as JSON
// text, through what the engine does with it: compile it, build its token grammar over a real
// BPE vocabulary, and decode a few constrained steps under a token budget. Returning is fine, an
// UnsupportedSchemaError is fine; anything else (a bare exception, a broken budget rule, no
// allowed token before the JSON is complete) is a finding, as are a crash, a hang or a blow-up.
import { compileSchema, ConstraintGrammar, JsonConstraint, TokenVocabulary } from "../../../src/index.js";
import { sotuTokenizer } from "../../support/small-model.js";

const tokenizer = await sotuTokenizer();
const vocabulary = new TokenVocabulary(tokenizer, tokenizer.vocabSize);
/** The token budget of the decoded steps, as a request's max_tokens. */
const BUDGET = 48;

export function compileSchemaCase(text: string): void {
  const schema: unknown = JSON.parse(text);
  // The HTTP schema takes only an object here (a JSON object; arrays reach the compiler).
  if (typeof schema !== "object" || schema === null) return;
  const constraint = new JsonConstraint(new ConstraintGrammar(compileSchema(schema), vocabulary));
  // The engine refuses a budget that cannot hold the shortest valid JSON.
  if (constraint.closingTokens > BUDGET) return;
  for (let step = 0; step < BUDGET && !constraint.done; step++) {
    const left = BUDGET - step;
    const allowed = constraint.allowedTokens(left);
    // Complete JSON that nothing may extend (a number at its digit limit) ends with a stop token.
    if (allowed.length === 0 && constraint.canEnd) return;
    if (allowed.length === 0) throw new Error(`no token allowed at step ${step} with ${left} tokens left`);
    constraint.accept(allowed[(step * 7919) % allowed.length]!);
    if (constraint.closingTokens > left - 1) throw new Error(`after step ${step} the JSON needs ${constraint.closingTokens} tokens; ${left - 1} are left`);
  }
}
