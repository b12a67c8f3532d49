// Constrained decoding of one request: which tokens may come next so the output stays a prefix of
// valid JSON for the schema, and can still be completed in the tokens left. The vocabulary is
// walked as a trie (tokens sorted by bytes) from the machine's state, pruning at the first byte
// a prefix breaks; the tokens allowed from a state and their completion costs are memoized per
// schema, so a state seen before (inside a string, most steps) costs a lookup.
//
// The budget rule: a token is allowed only if the JSON after it can be completed in the tokens
// left after it, counting one token per byte (every byte has a one-byte token: ASCII pieces or
// byte-fallback tokens). The first byte of the cheapest completion always qualifies, so some token
// is always allowed, and the JSON is closed by the time maxTokens runs out.
import { UnsupportedSchemaError } from "./errors.js";
import { JsonState } from "./json-machine.js";
import type { CompiledSchema, SchemaNode } from "./json-schema.js";
import type { TokenVocabulary } from "./vocabulary.js";

/** Memoized masks per schema, bounded by the ids they hold (a 256k vocabulary: ~2 MB a state). */
const MEMO_MAX_IDS = 1 << 22;

interface AllowedTokens {
  ids: Int32Array;
  /** Completion cost (bytes) of the state after each token. */
  costs: Int32Array;
  maxCost: number;
}

/** A compiled schema with its memo of token masks, shared by the requests that use the schema. */
export class ConstraintGrammar {
  private readonly memo = new Map<string, AllowedTokens>();
  private memoIds = 0;

  constructor(
    readonly schema: CompiledSchema,
    readonly vocabulary: TokenVocabulary,
  ) {
    checkSpellable(schema, vocabulary);
  }

  /** Tokens that may follow `state`, from the memo or by walking the vocabulary. */
  allowed(state: JsonState): AllowedTokens {
    const key = state.key;
    const hit = this.memo.get(key);
    if (hit) {
      // Re-insert: the Map's order is the eviction order (least recently used first).
      this.memo.delete(key);
      this.memo.set(key, hit);
      return hit;
    }
    const computed = walkVocabulary(state, this.vocabulary);
    this.memo.set(key, computed);
    this.memoIds += computed.ids.length;
    for (const [oldKey, old] of this.memo) {
      if (this.memoIds <= MEMO_MAX_IDS) break;
      this.memo.delete(oldKey);
      this.memoIds -= old.ids.length;
    }
    return computed;
  }
}

export class JsonConstraint {
  private state: JsonState;

  constructor(private readonly grammar: ConstraintGrammar) {
    this.state = JsonState.initial(grammar.schema);
  }

  /** The JSON is complete and nothing may follow: generation should stop. */
  get done(): boolean {
    return this.state.done;
  }

  /** The text so far is complete JSON (a top-level number may still grow): stop tokens are allowed. */
  get canEnd(): boolean {
    return this.state.canEnd;
  }

  /** Tokens needed at most to complete the JSON from here (one per byte). */
  get closingTokens(): number {
    return this.state.cost;
  }

  /** Text tokens allowed next when `budget` tokens are left, this one included (do not modify). */
  allowedTokens(budget: number): Int32Array {
    const { ids, costs, maxCost } = this.grammar.allowed(this.state);
    // Far from the budget (most steps) every token the grammar allows will do.
    if (maxCost <= budget - 1) return ids;
    const out: number[] = [];
    for (let i = 0; i < ids.length; i++) if (costs[i]! <= budget - 1) out.push(ids[i]!);
    return Int32Array.from(out);
  }

  /** Advances past a sampled text token (one allowedTokens returned). */
  accept(id: number): void {
    const next = this.state.stepAll(this.grammar.vocabulary.bytes(id));
    if (!next) throw new Error(`token ${id} breaks the JSON constraint`); // allowedTokens never offers one
    this.state = next;
  }
}

/**
 * Every text token whose bytes the machine accepts from `state`, with the cost after it. Tokens
 * are in byte order, so those sharing a prefix are adjacent: states[k] is the state after the
 * first k bytes of the current token, reused by the next token as far as their prefixes agree,
 * and a prefix that breaks skips every token that starts with it.
 */
function walkVocabulary(state: JsonState, vocabulary: TokenVocabulary): AllowedTokens {
  const { ids, lcp, bytes } = vocabulary.sorted();
  const states: (JsonState | null)[] = [state];
  const allowed: number[] = [];
  const costs: number[] = [];
  let valid = 0; // states[0..valid] hold for the previous token's prefix
  let i = 0;
  while (i < ids.length) {
    const token = bytes[i]!;
    let depth = Math.min(lcp[i]!, valid);
    let current = states[depth]!;
    let dead = -1;
    for (; depth < token.length; depth++) {
      const next = current.step(token[depth]!);
      if (!next) {
        dead = depth;
        break;
      }
      states[depth + 1] = next;
      current = next;
    }
    if (dead < 0) {
      allowed.push(ids[i]!);
      costs.push(current.cost);
      valid = token.length;
      i++;
      continue;
    }
    valid = dead;
    // Skip every following token that shares the broken prefix (its first dead + 1 bytes).
    i++;
    while (i < ids.length && lcp[i]! > dead) i++;
  }
  return { ids: Int32Array.from(allowed), costs: Int32Array.from(costs), maxCost: costs.reduce((a, b) => Math.max(a, b), 0) };
}

/**
 * The completion may need any byte of the schema's keys and literals, the structural ASCII, and
 * continuation bytes after a lead byte: each must be one token, or the budget rule breaks.
 */
function checkSpellable(schema: CompiledSchema, vocabulary: TokenVocabulary): void {
  const single = vocabulary.singleBytes();
  const needed = new Set<number>(new TextEncoder().encode('{}[],:"0n'));
  if ([...single].some((byte) => byte >= 0xc2)) for (const byte of [0x80, 0x90, 0xa0]) needed.add(byte);
  // A work list rather than recursion: the walk's depth is the schema's, which the request sets.
  const seen = new Set<SchemaNode>();
  const pending: SchemaNode[] = [schema.root];
  for (let node = pending.pop(); node; node = pending.pop()) {
    if (seen.has(node)) continue;
    seen.add(node);
    for (const byte of node.shortest) needed.add(byte);
    if (node.kind === "object") {
      for (const property of node.properties) {
        for (const byte of property.key) needed.add(byte);
        pending.push(property.value);
      }
      if (node.free) pending.push(node.free);
    } else if (node.kind === "array") pending.push(node.items);
    else if (node.kind === "string" && node.automaton) for (const byte of node.automaton.completionBytes()) needed.add(byte);
    else if (node.kind === "number" && node.bounds) for (const byte of new TextEncoder().encode("-.0123456789")) needed.add(byte);
    else if (node.kind === "literal") for (const value of node.values) for (const byte of value) needed.add(byte);
    else if (node.kind === "union") pending.push(...node.options);
  }
  for (const byte of needed) {
    if (!single.has(byte)) {
      throw new UnsupportedSchemaError("", `the vocabulary has no one-byte token for byte 0x${byte.toString(16)}, which completing this JSON may need`);
    }
  }
}
