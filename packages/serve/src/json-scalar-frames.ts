// The leaf frames of the JSON state machine: strings (escapes, and UTF-8 checked byte by byte, so
// byte-fallback tokens may spell any character but never an invalid one), numbers (digit counts
// bounded so each parses to a finite double) and literals (enum / const values, true, false, null).
import type { LiteralNode, NumberNode } from "./json-schema.js";
import { BACKSLASH, PASS, QUOTE, ZERO, type Frame, type StepResult } from "./json-frame.js";

/** Digit limits that keep every number a finite double (JSON.parse of 1e999 is Infinity). */
const MAX_INT_DIGITS = 16;
const MAX_FRACTION_DIGITS = 16;
const MAX_EXPONENT_DIGITS = 2;

type StringPhase = "chars" | "escape" | "unicode";

/** A string after its opening quote: JSON escapes, and UTF-8 checked byte by byte. */
export class StringFrame implements Frame {
  readonly key: string;
  readonly cost: number;
  readonly complete = false;
  readonly costAfterChild = 0;

  private constructor(
    private readonly phase: StringPhase,
    /** Hex digits still due (unicode) or continuation bytes still due (chars). */
    private readonly due: number,
    /** Range of the next continuation byte (the second byte of some sequences is narrower). */
    private readonly low: number,
    private readonly high: number,
    readonly finished: boolean,
    /** Refuses `"` (relax()). */
    private readonly relaxed = false,
  ) {
    this.key = `${relaxed ? "~" : ""}S${phase}${due}.${low}.${high}${finished ? "!" : ""}`;
    this.cost = finished ? 0 : phase === "escape" ? 2 : this.due + 1;
  }

  static open(): StringFrame {
    return new StringFrame("chars", 0, 0x80, 0xbf, false);
  }

  step(byte: number): StepResult {
    if (this.finished || (this.relaxed && byte === QUOTE)) return null;
    const next = (phase: StringPhase, due: number, low = 0x80, high = 0xbf) => new StringFrame(phase, due, low, high, false, this.relaxed);
    if (this.phase === "escape") {
      if (byte === 0x75) return next("unicode", 4);
      return '"\\/bfnrt'.includes(String.fromCharCode(byte)) ? next("chars", 0) : null;
    }
    if (this.phase === "unicode") {
      if (!isHexDigit(byte)) return null;
      return this.due === 1 ? next("chars", 0) : next("unicode", this.due - 1);
    }
    if (this.due > 0) {
      if (byte < this.low || byte > this.high) return null;
      return next("chars", this.due - 1);
    }
    if (byte === QUOTE) return new StringFrame("chars", 0, 0x80, 0xbf, true);
    if (byte === BACKSLASH) return next("escape", 0);
    if (byte < 0x20) return null;
    if (byte < 0x80) return this;
    // UTF-8 lead bytes and what the next byte may be (RFC 3629: no overlongs, no surrogates).
    if (byte >= 0xc2 && byte <= 0xdf) return next("chars", 1);
    if (byte === 0xe0) return next("chars", 2, 0xa0, 0xbf);
    if (byte === 0xed) return next("chars", 2, 0x80, 0x9f);
    if (byte >= 0xe1 && byte <= 0xef) return next("chars", 2);
    if (byte === 0xf0) return next("chars", 3, 0x90, 0xbf);
    if (byte >= 0xf1 && byte <= 0xf3) return next("chars", 3);
    if (byte === 0xf4) return next("chars", 3, 0x80, 0x8f);
    return null;
  }

  relax(): Frame {
    return new StringFrame(this.phase, this.due, this.low, this.high, false, true);
  }

  resume(end: Frame): Frame | null {
    const { phase, due, low, high } = end as StringFrame;
    return new StringFrame(phase, due, low, high, false);
  }

  closing(): number[] {
    if (this.finished) return [];
    if (this.phase === "escape") return [0x6e, QUOTE]; // \n
    if (this.phase === "unicode") return [...Array<number>(this.due).fill(ZERO), QUOTE];
    if (this.due === 0) return [QUOTE];
    return [this.low, ...Array<number>(this.due - 1).fill(0x80), QUOTE];
  }

  childDone(): Frame {
    return this;
  }

  closingAfterChild(): number[] {
    return [];
  }
}

function isHexDigit(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

type NumberPhase = "minus" | "zero" | "int" | "dot" | "fraction" | "e" | "exponentSign" | "exponent";

/** A JSON number; `digits` counts the digits of the current part. Integers have no fraction or exponent. */
export class NumberFrame implements Frame {
  readonly key: string;
  readonly cost: number;
  readonly complete: boolean;
  readonly finished = false;
  readonly costAfterChild = 0;

  private constructor(
    private readonly integer: boolean,
    private readonly phase: NumberPhase,
    private readonly digits: number,
  ) {
    this.key = `N${integer ? "i" : "n"}${phase}${digits}`;
    this.complete = phase === "zero" || phase === "int" || phase === "fraction" || phase === "exponent";
    this.cost = this.complete ? 0 : 1;
  }

  static start(node: NumberNode, byte: number): NumberFrame | null {
    if (byte === 0x2d) return new NumberFrame(node.integer, "minus", 0);
    if (byte === ZERO) return new NumberFrame(node.integer, "zero", 1);
    if (byte > ZERO && byte <= 0x39) return new NumberFrame(node.integer, "int", 1);
    return null;
  }

  step(byte: number): StepResult {
    const digit = byte >= ZERO && byte <= 0x39;
    const next = (phase: NumberPhase, digits: number) => new NumberFrame(this.integer, phase, digits);
    const exponent = (byte === 0x65 || byte === 0x45) && !this.integer;
    switch (this.phase) {
      case "minus":
        if (byte === ZERO) return next("zero", 1);
        return digit ? next("int", 1) : null;
      case "zero":
      case "int":
        if (digit && this.phase === "int" && this.digits < MAX_INT_DIGITS) return next("int", this.digits + 1);
        if (byte === 0x2e && !this.integer) return next("dot", 0);
        if (exponent) return next("e", 0);
        return digit ? null : PASS;
      case "dot":
        return digit ? next("fraction", 1) : null;
      case "fraction":
        if (digit) return this.digits < MAX_FRACTION_DIGITS ? next("fraction", this.digits + 1) : null;
        return exponent ? next("e", 0) : PASS;
      case "e":
        if (byte === 0x2b || byte === 0x2d) return next("exponentSign", 0);
        return digit ? next("exponent", 1) : null;
      case "exponentSign":
        return digit ? next("exponent", 1) : null;
      case "exponent":
        if (digit) return this.digits < MAX_EXPONENT_DIGITS ? next("exponent", this.digits + 1) : null;
        return PASS;
    }
  }

  closing(): number[] {
    return this.complete ? [] : [ZERO];
  }

  childDone(): Frame {
    return this;
  }

  closingAfterChild(): number[] {
    return [];
  }
}

/** One of a set of JSON texts, typed so far up to `typed` bytes; `alive` still match. */
export class LiteralFrame implements Frame {
  readonly key: string;
  readonly cost: number;
  readonly complete: boolean;
  readonly finished: boolean;
  readonly costAfterChild = 0;

  private constructor(
    private readonly node: LiteralNode,
    private readonly typed: number,
    private readonly alive: readonly number[],
  ) {
    this.key = `L${node.id}.${typed}.${alive.join(",")}`;
    const lengths = alive.map((i) => node.values[i]!.length);
    this.complete = lengths.includes(typed);
    this.finished = this.complete && lengths.every((length) => length === typed);
    this.cost = Math.min(...lengths) - typed;
  }

  static start(node: LiteralNode, byte: number): LiteralFrame | null {
    const alive = node.values.flatMap((value, i) => (value[0] === byte ? [i] : []));
    return alive.length > 0 ? new LiteralFrame(node, 1, alive) : null;
  }

  step(byte: number): StepResult {
    const alive = this.alive.filter((i) => this.node.values[i]![this.typed] === byte);
    if (alive.length > 0) return new LiteralFrame(this.node, this.typed + 1, alive);
    return this.complete ? PASS : null;
  }

  closing(): number[] {
    let best: Uint8Array | undefined;
    for (const i of this.alive) {
      const value = this.node.values[i]!;
      if (!best || value.length < best.length) best = value;
    }
    return [...best!.subarray(this.typed)];
  }

  childDone(): Frame {
    return this;
  }

  closingAfterChild(): number[] {
    return [];
  }
}
