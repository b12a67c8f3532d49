// The frame of a string with pattern, format, minLength or maxLength: the string's characters
// (decoded from raw UTF-8 and the short escapes; \u escapes are not offered) drive the string's
// automaton, and a byte is allowed only if the string can still be completed from the state after
// it. The cost is the automaton's cheapest completion plus the closing quote.
import type { StringNode } from "./json-schema.js";
import { BACKSLASH, QUOTE, type Frame, type StepResult } from "./json-frame.js";
import { charBytes, ESCAPE_LETTERS, type StringAutomaton } from "./json-string-automaton.js";

type Phase = "chars" | "escape" | "utf8" | "done";

/** Smallest code point of each UTF-8 length (2, 3, 4 bytes): no overlong forms. */
const MIN_CODE = [0, 0, 0x80, 0x800, 0x10000];

export class PatternStringFrame implements Frame {
  readonly cost: number;
  readonly complete = false;
  readonly costAfterChild = 0;
  readonly finished: boolean;

  private constructor(
    private readonly node: StringNode,
    private readonly automaton: StringAutomaton,
    private readonly state: number,
    private readonly count: number,
    private readonly phase: Phase,
    /** utf8: the bits so far, the continuation bytes due, and the sequence's length. */
    private readonly bits = 0,
    private readonly due = 0,
    private readonly length = 0,
    /** Refuses `"`, counts characters from the relax() call and bounds no count. */
    private readonly relaxed = false,
  ) {
    this.finished = phase === "done";
    this.cost = relaxed ? 0 : this.computeCost();
  }

  // Built on demand: the relaxed walk makes a frame per byte of the vocabulary and keys few.
  get key(): string {
    return `${this.relaxed ? "~" : ""}P${this.node.id}.${this.state}.${this.count}.${this.phase}.${this.bits}.${this.due}.${this.length}`;
  }

  static open(node: StringNode): PatternStringFrame {
    return new PatternStringFrame(node, node.automaton!, 0, 0, "chars");
  }

  /** The cheapest completion cost, INF when none: such frames are never returned. */
  private computeCost(): number {
    const a = this.automaton;
    switch (this.phase) {
      case "done":
        return 0;
      case "chars":
        return a.cost(this.state, this.count) + 1;
      case "escape":
        return this.bestEscape().cost + 1;
      case "utf8": {
        const [low, high] = this.range();
        return a.partial(this.state, this.count, low, high, this.due).cost + 1;
      }
    }
  }

  /** Code points the bytes so far can still become. */
  private range(): [number, number] {
    const shift = 6 * this.due;
    return [Math.max(this.bits << shift, MIN_CODE[this.length]!), Math.min(((this.bits + 1) << shift) - 1, 0x10ffff)];
  }

  private bestEscape(): { cost: number; letter: number } {
    let best = { cost: Number.POSITIVE_INFINITY, letter: -1 };
    for (const [letter, code] of ESCAPE_LETTERS) {
      const cost = 1 + this.automaton.cost(this.automaton.step(this.state, this.automaton.intervalOf(code)), this.automaton.capCount(this.count + 1));
      if (cost < best.cost) best = { cost, letter };
    }
    return best;
  }

  private with(state: number, count: number, phase: Phase, bits = 0, due = 0, length = 0): PatternStringFrame | null {
    const frame = new PatternStringFrame(this.node, this.automaton, state, count, phase, bits, due, length, this.relaxed);
    return frame.cost === Number.POSITIVE_INFINITY ? null : frame;
  }

  /** After a whole character. */
  private char(code: number): PatternStringFrame | null {
    const a = this.automaton;
    const next = a.step(this.state, a.intervalOf(code));
    return next < 0 ? null : this.with(next, this.relaxed ? this.count + 1 : a.capCount(this.count + 1), "chars");
  }

  relax(): Frame {
    return new PatternStringFrame(this.node, this.automaton, this.state, 0, this.phase, this.bits, this.due, this.length, true);
  }

  /**
   * Exact for any count: capCount(capCount(c + 1) + 1) = capCount(c + 2) (it is the identity or
   * a min), and a state the relaxed walk reached is completable only if every state on the way
   * was (the rest of the bytes and its completion complete them), so checking the end suffices.
   */
  resume(end: Frame): Frame | null {
    const e = end as PatternStringFrame;
    const frame = new PatternStringFrame(this.node, this.automaton, e.state, this.automaton.capCount(this.count + e.count), e.phase, e.bits, e.due, e.length);
    return frame.cost === Number.POSITIVE_INFINITY ? null : frame;
  }

  step(byte: number): StepResult {
    if (this.relaxed && byte === QUOTE) return null;
    switch (this.phase) {
      case "done":
        return null;
      case "escape": {
        const code = ESCAPE_LETTERS.get(byte);
        return code === undefined ? null : this.char(code);
      }
      case "utf8": {
        if (byte < 0x80 || byte > 0xbf) return null;
        const bits = (this.bits << 6) | (byte & 0x3f);
        if (this.due === 1) return bits >= MIN_CODE[this.length]! ? this.char(bits) : null;
        return this.with(this.state, this.count, "utf8", bits, this.due - 1, this.length);
      }
      case "chars":
        if (byte === QUOTE) return this.automaton.canStop(this.state, this.count) ? this.with(this.state, this.count, "done") : null;
        if (byte === BACKSLASH) return this.with(this.state, this.count, "escape");
        if (byte < 0x20) return null;
        if (byte < 0x80) return this.char(byte);
        if (byte >= 0xc2 && byte <= 0xdf) return this.with(this.state, this.count, "utf8", byte & 0x1f, 1, 2);
        if (byte >= 0xe0 && byte <= 0xef) return this.with(this.state, this.count, "utf8", byte & 0x0f, 2, 3);
        if (byte >= 0xf0 && byte <= 0xf4) return this.with(this.state, this.count, "utf8", byte & 0x07, 3, 4);
        return null;
    }
  }

  closing(): number[] {
    const a = this.automaton;
    switch (this.phase) {
      case "done":
        return [];
      case "chars":
        return [...a.completion(this.state, this.count).flatMap(charBytes), QUOTE];
      case "escape": {
        const { letter } = this.bestEscape();
        const code = ESCAPE_LETTERS.get(letter)!;
        const next = a.step(this.state, a.intervalOf(code));
        return [letter, ...a.completion(next, a.capCount(this.count + 1)).flatMap(charBytes), QUOTE];
      }
      case "utf8": {
        const [low, high] = this.range();
        const { interval, code } = a.partial(this.state, this.count, low, high, this.due);
        const rest = charBytes(code).slice(this.length - this.due);
        return [...rest, ...a.completion(a.step(this.state, interval), a.capCount(this.count + 1)).flatMap(charBytes), QUOTE];
      }
    }
  }

  childDone(): Frame {
    return this;
  }

  closingAfterChild(): number[] {
    return [];
  }
}
