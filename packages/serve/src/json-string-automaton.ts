// A string constraint (pattern, format, minLength, maxLength) as a DFA over the characters a JSON
// string can hold, with what the string frame needs from it: the next state per character, and
// the cheapest completion (in bytes of JSON text) from any state and character count, spelled out.
//
// The DFA is built eagerly by subset construction over the intersection of the regex components
// (a negated component, from (?! ), must not accept). Characters are grouped in atomic intervals:
// the pieces all the components' sets cut the alphabet into, further cut so each piece has one
// JSON byte length. The alphabet is what a JSON string can spell without \u escapes: the
// short escapes \b \t \n \f \r, and every character from U+0020 except surrogates.
//
// Costs: without length bounds a state's cheapest completion is a shortest path (Bellman-Ford
// backwards). With them the count matters, and exact[L][s] (cheapest completion of exactly L more
// characters) is tabled up to L = minLength + states, enough since a cheapest path longer than
// that has a cycle to cut (costs are positive) and stays at least minLength long.
import { UnsupportedSchemaError } from "./errors.js";
import { contains, type CharSet, type RegexComponent } from "./json-regex.js";

const MAX_DFA_STATES = 4000;
/** Work (states x intervals x lengths) of the length table, at most. */
const MAX_TABLE_WORK = 30_000_000;
const INF = Number.POSITIVE_INFINITY;

/** The characters a constrained string may hold. */
const ALPHABET: CharSet = [0x08, 0x0a, 0x0c, 0x0d, 0x20, 0xd7ff, 0xe000, 0x10ffff];
/** Cuts so that each interval has one JSON byte length (quote and backslash are escaped). */
const CUTS = [0x22, 0x23, 0x5c, 0x5d, 0x80, 0x800, 0x10000];
const ESCAPED: ReadonlyMap<number, number> = new Map([
  [0x22, 0x22],
  [0x5c, 0x5c],
  [0x08, 0x62],
  [0x09, 0x74],
  [0x0a, 0x6e],
  [0x0c, 0x66],
  [0x0d, 0x72],
]);
/** The characters written after a backslash, and the character each stands for. */
export const ESCAPE_LETTERS: ReadonlyMap<number, number> = new Map([
  [0x22, 0x22],
  [0x5c, 0x5c],
  [0x2f, 0x2f],
  [0x62, 0x08],
  [0x66, 0x0c],
  [0x6e, 0x0a],
  [0x72, 0x0d],
  [0x74, 0x09],
]);
const PREFERRED = Array.from("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", (c) => c.charCodeAt(0));
const encoder = new TextEncoder();

/** The JSON bytes of one character inside a string. */
export function charBytes(code: number): number[] {
  const escaped = ESCAPED.get(code);
  if (escaped !== undefined) return [0x5c, escaped];
  return [...encoder.encode(String.fromCodePoint(code))];
}

export interface StringLimits {
  readonly minLength: number;
  readonly maxLength: number | null;
}

export class StringAutomaton {
  /** Interval starts and ends (inclusive), sorted. */
  readonly lows: number[] = [];
  readonly highs: number[] = [];
  /** The cheapest character of each interval and its JSON bytes. */
  readonly reps: number[] = [];
  readonly repBytes: number[][] = [];
  /** next[s * intervals + i]: the state after a character of interval i, -1 for none. */
  private next!: Int32Array;
  private accepting: boolean[] = [];
  private states = 0;
  private readonly ascii = new Int32Array(128).fill(-1);
  /** Without length bounds: dist[s] and the interval of the cheapest first step. */
  private dist: number[] = [];
  private firstStep: number[] = [];
  /** With length bounds: exact[L][s] and its cheapest first interval. */
  private exact: Float64Array[] = [];
  private exactStep: Int32Array[] = [];
  private readonly bounded: boolean;
  private readonly partialMemo = new Map<string, { cost: number; interval: number; code: number }>();

  constructor(
    components: readonly RegexComponent[],
    readonly limits: StringLimits,
    path: string,
  ) {
    this.bounded = limits.minLength > 0 || limits.maxLength !== null;
    this.intervals(components);
    this.subsetConstruction(components, path);
    if (this.states === 0) throw new UnsupportedSchemaError(path, "no string satisfies pattern, format, minLength and maxLength together");
    if (this.bounded) this.lengthTable(path);
    else this.shortestPaths();
    if (this.cost(0, 0) === INF) throw new UnsupportedSchemaError(path, "no string satisfies pattern, format, minLength and maxLength together");
  }

  get intervalCount(): number {
    return this.lows.length;
  }

  /** The count as states remember it: beyond what the bounds can tell apart, counts are one. */
  capCount(count: number): number {
    if (!this.bounded) return 0;
    return this.limits.maxLength === null ? Math.min(count, this.limits.minLength) : count;
  }

  isAccepting(state: number): boolean {
    return this.accepting[state]!;
  }

  canStop(state: number, count: number): boolean {
    return this.accepting[state]! && count >= this.limits.minLength;
  }

  intervalOf(code: number): number {
    if (code < 128) return this.ascii[code]!;
    let lo = 0;
    let hi = this.lows.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (code < this.lows[mid]!) hi = mid - 1;
      else if (code > this.highs[mid]!) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  step(state: number, interval: number): number {
    return interval < 0 ? -1 : this.next[state * this.lows.length + interval]!;
  }

  /** Bytes of the cheapest completion's characters (not the closing quote); INF when none. */
  cost(state: number, count: number): number {
    if (state < 0) return INF;
    if (!this.bounded) return this.dist[state]!;
    const { minLength, maxLength } = this.limits;
    if (maxLength !== null && count > maxLength) return INF;
    const lo = Math.max(0, minLength - count);
    const hi = Math.min(maxLength === null ? INF : maxLength - count, lo + this.states, this.exact.length - 1);
    let best = INF;
    for (let L = lo; L <= hi; L++) best = Math.min(best, this.exact[L]![state]!);
    return best;
  }

  /** The characters of the cheapest completion from (state, count). */
  completion(state: number, count: number): number[] {
    const out: number[] = [];
    if (!this.bounded) {
      for (let s = state; this.dist[s]! > 0 || !this.accepting[s]; ) {
        const interval = this.firstStep[s]!;
        out.push(this.reps[interval]!);
        s = this.step(s, interval);
      }
      return out;
    }
    const target = this.cost(state, count);
    const { minLength } = this.limits;
    let L = Math.max(0, minLength - count);
    while (this.exact[L]![state] !== target) L++;
    for (let s = state; L > 0; L--) {
      const interval = this.exactStep[L]![s]!;
      out.push(this.reps[interval]!);
      s = this.step(s, interval);
    }
    return out;
  }

  /**
   * Inside a multi-byte character whose code point lies in [low, high]: the cheapest way on, as
   * the remaining bytes' count plus the completion after, the interval and the character.
   */
  partial(state: number, count: number, low: number, high: number, due: number): { cost: number; interval: number; code: number } {
    const key = `${state}.${count}.${low}.${high}`;
    let hit = this.partialMemo.get(key);
    if (hit) return hit;
    hit = { cost: INF, interval: -1, code: -1 };
    for (let i = 0; i < this.lows.length; i++) {
      if (this.highs[i]! < low || this.lows[i]! > high) continue;
      const cost = due + this.cost(this.step(state, i), this.capCount(count + 1));
      if (cost < hit.cost) hit = { cost, interval: i, code: Math.max(low, this.lows[i]!) };
    }
    this.partialMemo.set(key, hit);
    return hit;
  }

  /** The interval of every step some cheapest completion takes: their bytes must be tokens. */
  completionBytes(): Set<number> {
    const out = new Set<number>();
    const add = (interval: number) => {
      if (interval >= 0) for (const byte of this.repBytes[interval]!) out.add(byte);
    };
    if (!this.bounded) this.firstStep.forEach(add);
    else for (const row of this.exactStep) row.forEach(add);
    return out;
  }

  private intervals(components: readonly RegexComponent[]): void {
    const cuts = new Set<number>(CUTS);
    const cut = (set: CharSet) => {
      for (let i = 0; i < set.length; i += 2) cuts.add(set[i]!).add(set[i + 1]! + 1);
    };
    cut(ALPHABET);
    for (const { nfa } of components) for (const list of nfa.edges) for (const edge of list) cut(edge.set);
    const points = [...cuts].sort((a, b) => a - b);
    for (let k = 0; k + 1 < points.length; k++) {
      const lo = points[k]!;
      const hi = points[k + 1]! - 1;
      if (!contains(ALPHABET, lo)) continue;
      const preferred = PREFERRED.find((code) => code >= lo && code <= hi);
      const rep = preferred ?? lo;
      this.lows.push(lo);
      this.highs.push(hi);
      this.reps.push(rep);
      this.repBytes.push(charBytes(rep));
    }
    for (let i = 0; i < this.lows.length; i++) for (let code = this.lows[i]!; code <= Math.min(this.highs[i]!, 127); code++) this.ascii[code] = i;
  }

  private subsetConstruction(components: readonly RegexComponent[], path: string): void {
    const closure = (nfaIndex: number, seeds: Iterable<number>): number[] => {
      const { epsilon } = components[nfaIndex]!.nfa;
      const seen = new Set<number>(seeds);
      const stack = [...seen];
      for (let s = stack.pop(); s !== undefined; s = stack.pop()) {
        for (const t of epsilon[s]!) {
          if (!seen.has(t)) {
            seen.add(t);
            stack.push(t);
          }
        }
      }
      return [...seen].sort((a, b) => a - b);
    };
    const ids = new Map<string, number>();
    const sets: number[][][] = [];
    const transitions: number[] = [];
    const intern = (parts: number[][]): number => {
      // A positive component with no states left can never accept: one dead state for all.
      if (parts.some((part, k) => part.length === 0 && !components[k]!.negated)) return -1;
      const key = parts.map((part) => part.join(",")).join("|");
      let id = ids.get(key);
      if (id === undefined) {
        id = sets.length;
        if (id >= MAX_DFA_STATES) throw new UnsupportedSchemaError(path, `the pattern or format needs more than ${MAX_DFA_STATES} automaton states`);
        ids.set(key, id);
        sets.push(parts);
      }
      return id;
    };
    intern(components.map((component, k) => closure(k, [component.nfa.start])));
    const n = this.lows.length;
    for (let s = 0; s < sets.length; s++) {
      const parts = sets[s]!;
      this.accepting[s] = parts.every((part, k) => part.includes(components[k]!.nfa.accept) !== components[k]!.negated);
      for (let i = 0; i < n; i++) {
        const code = this.lows[i]!;
        const moved = parts.map((part, k) => {
          const targets: number[] = [];
          for (const q of part) for (const edge of components[k]!.nfa.edges[q]!) if (contains(edge.set, code)) targets.push(edge.to);
          return closure(k, targets);
        });
        transitions[s * n + i] = intern(moved);
      }
    }
    this.states = sets.length;
    this.next = Int32Array.from(transitions);
  }

  private shortestPaths(): void {
    const n = this.lows.length;
    this.dist = this.accepting.map((accept) => (accept ? 0 : INF));
    this.firstStep = new Array<number>(this.states).fill(-1);
    for (let changed = true; changed; ) {
      changed = false;
      for (let s = 0; s < this.states; s++) {
        for (let i = 0; i < n; i++) {
          const t = this.next[s * n + i]!;
          if (t < 0) continue;
          const cost = this.repBytes[i]!.length + this.dist[t]!;
          if (cost < this.dist[s]!) {
            this.dist[s] = cost;
            this.firstStep[s] = i;
            changed = true;
          }
        }
      }
    }
  }

  private lengthTable(path: string): void {
    const n = this.lows.length;
    const { minLength, maxLength } = this.limits;
    const top = Math.min(maxLength ?? INF, minLength + this.states);
    if ((top + 1) * this.states * n > MAX_TABLE_WORK) throw new UnsupportedSchemaError(path, "minLength/maxLength together with this pattern or format are too costly to enforce");
    const first = new Float64Array(this.states);
    for (let s = 0; s < this.states; s++) first[s] = this.accepting[s] ? 0 : INF;
    this.exact = [first];
    this.exactStep = [new Int32Array(this.states).fill(-1)];
    for (let L = 1; L <= top; L++) {
      const prev = this.exact[L - 1]!;
      const row = new Float64Array(this.states).fill(INF);
      const step = new Int32Array(this.states).fill(-1);
      for (let s = 0; s < this.states; s++) {
        for (let i = 0; i < n; i++) {
          const t = this.next[s * n + i]!;
          if (t < 0) continue;
          const cost = this.repBytes[i]!.length + prev[t]!;
          if (cost < row[s]!) {
            row[s] = cost;
            step[s] = i;
          }
        }
      }
      this.exact.push(row);
      this.exactStep.push(step);
    }
  }
}
