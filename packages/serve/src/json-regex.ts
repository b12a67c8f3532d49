// The regular-expression subset that `pattern` (and the formats) compile from, as ECMAScript reads
// it with the u flag (Ajv's reading): literals and escapes (\d \D \w \W \s \S \t \n \r \v \f \0
// \xHH \uHHHH \u{H...} and escaped syntax characters), `.`, classes [...] and [^...] with ranges,
// groups ( ), (?: ), (?<name> ), alternation, the quantifiers * + ? {n} {n,} {n,m} (lazy or not:
// matching is a yes/no, so laziness changes nothing), ^ only first and $ only last, and lookaheads
// (?= ) (?! ) only right after a leading ^ (zod's email pattern has two). A pattern not anchored
// matches anywhere, as JSON Schema says, so it gets [\s\S]* around it. Anything else
// (backreferences, \b, lookbehinds, lookaheads elsewhere, \p{...}) throws UnsupportedSchemaError
// naming the construct. The result is a Thompson NFA over code points, one per component: the
// pattern itself, and one per leading lookahead, matched as a prefix (negated for (?! )).
import { UnsupportedSchemaError } from "./errors.js";

/** Sorted disjoint code-point ranges, flattened: [lo0, hi0, lo1, hi1, ...]. */
export type CharSet = readonly number[];

export interface Nfa {
  /** Per state: character edges (set, target). */
  readonly edges: { set: CharSet; to: number }[][];
  /** Per state: epsilon edges. */
  readonly epsilon: number[][];
  readonly start: number;
  readonly accept: number;
}

/** One NFA the string must (or, negated, must not) match in full. */
export interface RegexComponent {
  readonly nfa: Nfa;
  readonly negated: boolean;
}

/** NFA states of one pattern, at most: a {n,m} over a big group multiplies quickly. */
const MAX_NFA_STATES = 20_000;
const MAX_CODE_POINT = 0x10ffff;

type Ast =
  | { kind: "set"; set: CharSet }
  | { kind: "seq"; items: Ast[] }
  | { kind: "alt"; options: Ast[] }
  | { kind: "repeat"; item: Ast; min: number; max: number | null };

export const ANY: CharSet = [0, MAX_CODE_POINT];
const DIGIT: CharSet = [0x30, 0x39];
const WORD: CharSet = normalize([0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]);
const SPACE: CharSet = normalize([0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff]);
const LINE_TERMINATORS: CharSet = normalize([0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]);
const DOT: CharSet = complement(LINE_TERMINATORS);
const SYNTAX = "^$\\.*+?()[]{}|/-";

/** Compiles `source`; `path` names the schema place in errors. */
export function compileRegex(source: string, path: string): RegexComponent[] {
  const parser = new Parser(source, path);
  const { body, lookaheads, anchoredStart, anchoredEnd } = parser.parseTop();
  const anyRun: Ast = { kind: "repeat", item: { kind: "set", set: ANY }, min: 0, max: null };
  const main: Ast = { kind: "seq", items: [...(anchoredStart ? [] : [anyRun]), body, ...(anchoredEnd ? [] : [anyRun])] };
  const components: RegexComponent[] = [{ nfa: toNfa(main, path), negated: false }];
  for (const look of lookaheads) components.push({ nfa: toNfa({ kind: "seq", items: [look.body, anyRun] }, path), negated: look.negated });
  return components;
}

class Parser {
  private i = 0;
  private readonly chars: number[];

  constructor(
    private readonly source: string,
    private readonly path: string,
  ) {
    this.chars = Array.from(source, (c) => c.codePointAt(0)!);
  }

  private fail(construct: string): never {
    throw new UnsupportedSchemaError(this.path, `pattern ${JSON.stringify(this.source.length > 80 ? `${this.source.slice(0, 77)}...` : this.source)}: ${construct} is not supported (see the regular-expression subset in @gemma-ts/serve's README)`);
  }

  private peek(offset = 0): number | undefined {
    return this.chars[this.i + offset];
  }

  private eat(char: string): boolean {
    if (this.peek() === char.codePointAt(0)) {
      this.i++;
      return true;
    }
    return false;
  }

  parseTop(): { body: Ast; lookaheads: { body: Ast; negated: boolean }[]; anchoredStart: boolean; anchoredEnd: boolean } {
    const anchoredStart = this.eat("^");
    const lookaheads: { body: Ast; negated: boolean }[] = [];
    while (anchoredStart && this.startsWith("(?=") !== this.startsWith("(?!")) {
      const negated = this.startsWith("(?!");
      this.i += 3;
      const body = this.alternation();
      if (!this.eat(")")) this.fail("an unclosed group");
      lookaheads.push({ body, negated });
    }
    const body = this.alternation();
    const anchoredEnd = this.eat("$");
    if (this.i < this.chars.length) {
      const c = String.fromCodePoint(this.peek()!);
      this.fail(c === ")" ? "an unmatched ')'" : c === "$" || c === "^" ? "an anchor (^ or $) other than a leading ^ and a trailing $" : `'${c}' here`);
    }
    if ((anchoredStart || anchoredEnd) && body.kind === "alt") this.fail("an anchor next to a top-level alternation (write ^(?:a|b)$)");
    return { body, lookaheads, anchoredStart, anchoredEnd };
  }

  private startsWith(text: string): boolean {
    return this.source.startsWith(text, this.offsetOf(this.i));
  }

  /** String offset of code point index `index` (the source may hold astral characters). */
  private offsetOf(index: number): number {
    let offset = 0;
    for (let k = 0; k < index; k++) offset += this.chars[k]! > 0xffff ? 2 : 1;
    return offset;
  }

  private alternation(): Ast {
    const options = [this.sequence()];
    while (this.eat("|")) options.push(this.sequence());
    return options.length === 1 ? options[0]! : { kind: "alt", options };
  }

  private sequence(): Ast {
    const items: Ast[] = [];
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === 0x7c || c === 0x29) break; // | )
      if (c === 0x24 && this.i === this.chars.length - 1) break; // a trailing $
      items.push(this.quantified(this.atom()));
    }
    return items.length === 1 ? items[0]! : { kind: "seq", items };
  }

  private quantified(item: Ast): Ast {
    for (;;) {
      let min: number;
      let max: number | null;
      if (this.eat("*")) [min, max] = [0, null];
      else if (this.eat("+")) [min, max] = [1, null];
      else if (this.eat("?")) [min, max] = [0, 1];
      else if (this.peek() === 0x7b && this.braceQuantifier()) {
        [min, max] = this.braceQuantifier()!;
        while (!this.eat("}")) this.i++;
      } else return item;
      this.eat("?"); // lazy: the same language
      if (max !== null && max < min) this.fail("a quantifier {n,m} with m < n");
      item = { kind: "repeat", item, min, max };
    }
  }

  /** {n}, {n,} or {n,m} at the cursor, or null (then '{' is a literal, as without the u flag... which Ajv's u flag refuses). */
  private braceQuantifier(): [number, number | null] | null {
    const rest = this.source.slice(this.offsetOf(this.i));
    const match = /^\{(\d+)(,(\d*))?\}/.exec(rest);
    if (!match) return null;
    const min = Number(match[1]);
    const max = match[2] === undefined ? min : match[3] === "" ? null : Number(match[3]);
    if (min > 1000 || (max !== null && max > 1000)) this.fail("a repetition count above 1000");
    return [min, max];
  }

  private atom(): Ast {
    const c = this.chars[this.i++]!;
    switch (c) {
      case 0x2e: // .
        return { kind: "set", set: DOT };
      case 0x5b: // [
        return { kind: "set", set: this.charClass() };
      case 0x28: {
        // (
        if (this.eat("?")) {
          if (this.eat(":")) {
            /* non-capturing */
          } else if (this.peek() === 0x3c && this.peek(1) !== 0x3d && this.peek(1) !== 0x21) {
            while (this.peek() !== undefined && !this.eat(">")) this.i++;
          } else if (this.peek() === 0x3d || this.peek() === 0x21) this.fail("a lookahead (?= or (?! other than right after a leading ^");
          else this.fail("a lookbehind or group modifier");
        }
        const body = this.alternation();
        if (!this.eat(")")) this.fail("an unclosed group");
        return body;
      }
      case 0x5c: // \
        return { kind: "set", set: this.escape(false) };
      case 0x5e:
      case 0x24:
        return this.fail("an anchor (^ or $) other than a leading ^ and a trailing $");
      case 0x2a:
      case 0x2b:
      case 0x3f:
        return this.fail("a quantifier with nothing to repeat");
      case 0x7b:
      case 0x7d:
      case 0x5d:
        return this.fail(`a lone '${String.fromCharCode(c)}' (escape it)`);
      default:
        return { kind: "set", set: [c, c] };
    }
  }

  private charClass(): CharSet {
    const negated = this.eat("^");
    const ranges: number[] = [];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail("an unclosed character class");
      if (c === 0x5d && !first) break;
      if (c === 0x5d && first) this.fail("an empty character class");
      first = false;
      const low = this.classAtom();
      if (this.peek() === 0x2d && this.peek(1) !== 0x5d && this.peek(1) !== undefined) {
        this.i++;
        const high = this.classAtom();
        if (low.length !== 2 || high.length !== 2 || low[0] !== low[1] || high[0] !== high[1]) this.fail("a class range with a class escape as an end");
        if (high[0]! < low[0]!) this.fail("a class range out of order");
        ranges.push(low[0]!, high[0]!);
      } else ranges.push(...low);
    }
    this.i++;
    const set = normalize(ranges);
    return negated ? complement(set) : set;
  }

  private classAtom(): CharSet {
    const c = this.chars[this.i++]!;
    if (c === 0x5c) return this.escape(true);
    return [c, c];
  }

  private escape(inClass: boolean): CharSet {
    const c = this.chars[this.i++];
    if (c === undefined) this.fail("a trailing backslash");
    const letter = String.fromCodePoint(c);
    switch (letter) {
      case "d":
        return DIGIT;
      case "D":
        return complement(DIGIT);
      case "w":
        return WORD;
      case "W":
        return complement(WORD);
      case "s":
        return SPACE;
      case "S":
        return complement(SPACE);
      case "t":
        return [9, 9];
      case "n":
        return [10, 10];
      case "v":
        return [11, 11];
      case "f":
        return [12, 12];
      case "r":
        return [13, 13];
      case "0":
        if (this.peek() !== undefined && this.peek()! >= 0x30 && this.peek()! <= 0x39) this.fail("an octal escape");
        return [0, 0];
      case "b":
        if (inClass) return [8, 8];
        return this.fail("a word boundary \\b");
      case "x": {
        const hex = this.source.slice(this.offsetOf(this.i), this.offsetOf(this.i) + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail("a malformed \\x escape");
        this.i += 2;
        const code = Number.parseInt(hex, 16);
        return [code, code];
      }
      case "u": {
        const rest = this.source.slice(this.offsetOf(this.i));
        const match = /^(?:([0-9a-fA-F]{4})|\{([0-9a-fA-F]{1,6})\})/.exec(rest);
        if (!match) this.fail("a malformed \\u escape");
        this.i += match[0].length;
        const code = Number.parseInt(match[1] ?? match[2]!, 16);
        if (code > MAX_CODE_POINT) this.fail("a \\u{...} escape past U+10FFFF");
        return [code, code];
      }
      case "-":
        if (inClass) return [0x2d, 0x2d];
        break;
      default:
        if (SYNTAX.includes(letter)) return [c, c];
    }
    if (letter >= "1" && letter <= "9") return this.fail("a backreference");
    if (letter === "k") return this.fail("a named backreference \\k");
    if (letter === "p" || letter === "P") return this.fail("a Unicode property escape \\p{...}");
    if (letter === "B") return this.fail("a non-word-boundary \\B");
    if (letter === "c") return this.fail("a control escape \\c");
    return this.fail(`the escape \\${letter}`);
  }
}

/** Sorts and merges ranges. */
export function normalize(ranges: readonly number[]): CharSet {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i]!, ranges[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    if (out.length > 0 && lo <= out[out.length - 1]! + 1) out[out.length - 1] = Math.max(out[out.length - 1]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

export function complement(set: CharSet): CharSet {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < set.length; i += 2) {
    if (set[i]! > next) out.push(next, set[i]! - 1);
    next = set[i + 1]! + 1;
  }
  if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT);
  return out;
}

export function contains(set: CharSet, code: number): boolean {
  for (let i = 0; i < set.length; i += 2) {
    if (code < set[i]!) return false;
    if (code <= set[i + 1]!) return true;
  }
  return false;
}

/** Thompson's construction. */
function toNfa(ast: Ast, path: string): Nfa {
  const edges: { set: CharSet; to: number }[][] = [];
  const epsilon: number[][] = [];
  const state = (): number => {
    if (edges.length >= MAX_NFA_STATES) throw new UnsupportedSchemaError(path, `the pattern compiles to more than ${MAX_NFA_STATES} automaton states (large {n,m} counts multiply)`);
    edges.push([]);
    epsilon.push([]);
    return edges.length - 1;
  };
  const build = (node: Ast): { start: number; end: number } => {
    switch (node.kind) {
      case "set": {
        const start = state();
        const end = state();
        edges[start]!.push({ set: node.set, to: end });
        return { start, end };
      }
      case "seq": {
        const start = state();
        let end = start;
        for (const item of node.items) {
          const part = build(item);
          epsilon[end]!.push(part.start);
          end = part.end;
        }
        return { start, end };
      }
      case "alt": {
        const start = state();
        const end = state();
        for (const option of node.options) {
          const part = build(option);
          epsilon[start]!.push(part.start);
          epsilon[part.end]!.push(end);
        }
        return { start, end };
      }
      case "repeat": {
        const start = state();
        let end = start;
        for (let k = 0; k < node.min; k++) {
          const part = build(node.item);
          epsilon[end]!.push(part.start);
          end = part.end;
        }
        if (node.max === null) {
          const part = build(node.item);
          epsilon[end]!.push(part.start);
          epsilon[part.end]!.push(part.start);
          const out = state();
          epsilon[end]!.push(out);
          epsilon[part.end]!.push(out);
          return { start, end: out };
        }
        const out = state();
        for (let k = node.min; k < node.max; k++) {
          epsilon[end]!.push(out);
          const part = build(node.item);
          epsilon[end]!.push(part.start);
          end = part.end;
        }
        epsilon[end]!.push(out);
        return { start, end: out };
      }
    }
  };
  const { start, end } = build(ast);
  return { edges, epsilon, start, accept: end };
}
