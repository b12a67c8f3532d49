// Constrained decoding of one request: which tokens may come next so the output stays a prefix of
// valid JSON for the schema, and can still be completed in the tokens left. The vocabulary is
// walked as a trie (tokens sorted by bytes) from the machine's state, pruning at the first byte
// a prefix breaks; the tokens allowed from a state and their completion costs are memoized per
// schema, so a state seen before costs a lookup. Inside a string (most steps) states are seldom
// seen before, so there the walk is split: see ConstraintGrammar.insideString.
//
// The budget rule: a token is allowed only if the JSON after it can be completed in the tokens
// left after it, counting one token per byte (every byte has a one-byte token: ASCII pieces or
// byte-fallback tokens). The first byte of the cheapest completion always qualifies, so some token
// is always allowed, and the JSON is closed by the time maxTokens runs out.
import { UnsupportedSchemaError } from "./errors.js";
import { QUOTE } from "./json-frame.js";
import { JsonState } from "./json-machine.js";
import type { CompiledSchema, SchemaNode } from "./json-schema.js";
import type { SortedVocabulary, TokenVocabulary } from "./vocabulary.js";

/** Memoized masks per schema, bounded by the ids they hold (a 256k vocabulary: ~2 MB a state). */
const MEMO_MAX_IDS = 1 << 22;

/** Allowed tokens in runs, each with the completion cost (bytes) of the state after its tokens. */
interface AllowedTokens {
  runs: { ids: Int32Array; cost: number }[];
  /** Ids in all runs (runs inside strings are views of a shared walk; counted all the same). */
  size: number;
}

/** The quote-free tokens a string's relaxed frame accepts, in runs that end in the same frame. */
interface RelaxedTokens {
  runs: { end: JsonState; ids: Int32Array }[];
  size: number;
}

/** Least recently used entries go first once the ids held pass MEMO_MAX_IDS. */
class Memo<T extends { size: number }> {
  private readonly entries = new Map<string, T>();
  private held = 0;

  get(key: string): T | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Re-insert: the Map's order is the eviction order.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: T): void {
    this.entries.set(key, value);
    this.held += value.size;
    for (const [oldKey, old] of this.entries) {
      if (this.held <= MEMO_MAX_IDS) break;
      this.entries.delete(oldKey);
      this.held -= old.size;
    }
  }
}

/** A compiled schema with its memo of token masks, shared by the requests that use the schema. */
export class ConstraintGrammar {
  private readonly memo = new Memo<AllowedTokens>();
  /** Apart: inside strings masks are large and states many, and would evict the rest. */
  private readonly stringMemo = new Memo<AllowedTokens>();
  private readonly quotedMemo = new Memo<AllowedTokens>();
  private readonly relaxedMemo = new Memo<RelaxedTokens>();

  constructor(
    readonly schema: CompiledSchema,
    readonly vocabulary: TokenVocabulary,
  ) {
    checkSpellable(schema, vocabulary);
  }

  /** Tokens that may follow `state`, from the memo or by walking the vocabulary. */
  allowed(state: JsonState): AllowedTokens {
    const key = state.key;
    const relaxed = state.relaxed();
    const memo = relaxed ? this.stringMemo : this.memo;
    const hit = memo.get(key);
    if (hit) return hit;
    const computed = relaxed ? this.insideString(state, relaxed) : allowedFrom(state, this.vocabulary.sorted());
    memo.set(key, computed);
    return computed;
  }

  /**
   * Inside a string the state's key holds the character count and every frame below, so most
   * states are new (a string with maxLength has one per count), and a full walk is ~100 ms at
   * 256k. So the walk splits: tokens without a quote stay in the string and depend on the count
   * only through the state they end in, walked once per string state from the relaxed frame (no
   * count, no frames below) and checked per run of tokens ending alike; the few tokens with a
   * quote are walked exactly.
   */
  private insideString(state: JsonState, relaxed: JsonState): AllowedTokens {
    const inner = this.relaxedTokens(relaxed);
    let exact = this.quotedMemo.get(state.key);
    if (!exact) {
      exact = allowedFrom(state, tokensWithQuote(this.vocabulary));
      this.quotedMemo.set(state.key, exact);
    }
    const runs = [...exact.runs];
    let { size } = exact;
    for (const { end, ids } of inner.runs) {
      const after = state.resume(end);
      if (!after) continue;
      runs.push({ ids, cost: after.cost });
      size += ids.length;
    }
    return { runs, size };
  }

  private relaxedTokens(relaxed: JsonState): RelaxedTokens {
    const key = relaxed.key;
    const hit = this.relaxedMemo.get(key);
    if (hit) return hit;
    const groups = new Map<string, { end: JsonState; ids: number[] }>();
    let size = 0;
    walkVocabulary(relaxed, this.vocabulary.sorted(), (id, end) => {
      const endKey = end.key;
      const group = groups.get(endKey);
      if (group) group.ids.push(id);
      else groups.set(endKey, { end, ids: [id] });
      size++;
    });
    const computed = { runs: Array.from(groups.values(), ({ end, ids }) => ({ end, ids: Int32Array.from(ids) })), size };
    this.relaxedMemo.set(key, computed);
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

  /**
   * Text tokens allowed next when `budget` tokens are left, this one included, in runs (do not
   * modify): inside a string they are views of a memoized walk, which copying would cost more
   * than the rest of the step.
   */
  allowedRuns(budget: number): Int32Array[] {
    const { runs } = this.grammar.allowed(this.state);
    const out: Int32Array[] = [];
    for (const { ids, cost } of runs) if (cost <= budget - 1 && ids.length > 0) out.push(ids);
    return out;
  }

  /** The same tokens in one array. */
  allowedTokens(budget: number): Int32Array {
    const runs = this.allowedRuns(budget);
    if (runs.length === 1) return runs[0]!;
    const out = new Int32Array(runs.reduce((sum, run) => sum + run.length, 0));
    let n = 0;
    for (const run of runs) {
      out.set(run, n);
      n += run.length;
    }
    return out;
  }

  /** Advances past a sampled text token (one allowedTokens returned). */
  accept(id: number): void {
    const next = this.state.stepAll(this.grammar.vocabulary.bytes(id));
    if (!next) throw new Error(`token ${id} breaks the JSON constraint`); // allowedTokens never offers one
    this.state = next;
  }
}

/** The tokens of `tokens` that `state` accepts, in runs by the cost after them. */
function allowedFrom(state: JsonState, tokens: SortedVocabulary): AllowedTokens {
  const byCost = new Map<number, number[]>();
  let size = 0;
  walkVocabulary(state, tokens, (id, end) => {
    const ids = byCost.get(end.cost);
    if (ids) ids.push(id);
    else byCost.set(end.cost, [id]);
    size++;
  });
  const runs = Array.from(byCost, ([cost, ids]) => ({ ids: Int32Array.from(ids), cost }));
  return { runs, size };
}

/**
 * Visits every token whose bytes the machine accepts from `state`, with the state after it.
 * Tokens are in byte order, so those sharing a prefix are adjacent: states[k] is the state after
 * the first k bytes of the current token, reused by the next token as far as their prefixes
 * agree, and a prefix that breaks skips every token that starts with it.
 */
function walkVocabulary(state: JsonState, tokens: SortedVocabulary, visit: (id: number, end: JsonState) => void): void {
  const { ids, lcp, bytes } = tokens;
  const states: (JsonState | null)[] = [state];
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
      visit(ids[i]!, current);
      valid = token.length;
      i++;
      continue;
    }
    valid = dead;
    // Skip every following token that shares the broken prefix (its first dead + 1 bytes).
    i++;
    while (i < ids.length && lcp[i]! > dead) i++;
  }
}

/** Per vocabulary, its tokens holding a `"`, as a trie of their own: the tokens that may end a string. */
const quoted = new WeakMap<TokenVocabulary, SortedVocabulary>();

function tokensWithQuote(vocabulary: TokenVocabulary): SortedVocabulary {
  let hit = quoted.get(vocabulary);
  if (hit) return hit;
  const { ids, lcp, bytes } = vocabulary.sorted();
  const keep: number[] = [];
  const keptLcp: number[] = [];
  // The common prefix of two kept tokens is the least lcp between them in the full order.
  let shared = 0;
  for (let i = 0; i < ids.length; i++) {
    shared = Math.min(shared, lcp[i]!);
    if (!bytes[i]!.includes(QUOTE)) continue;
    keptLcp.push(keep.length === 0 ? 0 : shared);
    keep.push(i);
    shared = Number.MAX_SAFE_INTEGER;
  }
  hit = { ids: Int32Array.from(keep, (i) => ids[i]!), lcp: Int32Array.from(keptLcp), bytes: keep.map((i) => bytes[i]!) };
  quoted.set(vocabulary, hit);
  return hit;
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
