// The frame contract of the JSON state machine (json-machine.ts): each open JSON value on the
// stack is a frame that answers a byte with its next self, a child value it starts, PASS or null,
// and knows the cost of its cheapest completion. Shared byte constants and the whitespace rule.

/** Indentation allowed after a newline between structural tokens (llama.cpp's JSON grammar: 20). */
const MAX_INDENT = 20;

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;
export const ZERO = 0x30;

/** A frame's answer to a byte: its next self, a child it starts, PASS (complete; the byte is the parent's), or null (not allowed). */
export type StepResult = Frame | { self: Frame; child: Frame } | typeof PASS | null;
export const PASS = Symbol("pass");

export interface Frame {
  /** Identifies the frame's behaviour from here on (for memoizing token masks). */
  readonly key: string;
  /** Length of the cheapest completion of this frame when it is on top. */
  readonly cost: number;
  /** Nothing may follow: the frame pops at once. */
  readonly finished: boolean;
  /** May end here (numbers; literals that a longer one extends). */
  readonly complete: boolean;
  step(byte: number): StepResult;
  closing(): number[];
  /** After the open child completes: */
  childDone(): Frame;
  readonly costAfterChild: number;
  closingAfterChild(): number[];
  /**
   * Strings only: a frame that steps bytes other than `"` as this one does, but counts characters
   * from zero and bounds no count, so its walk of the vocabulary serves every count and every
   * frame below (json-constraint.ts); its cost means nothing. Undefined for other frames.
   */
  relax?(): Frame;
  /** Strings only: this frame after the bytes that took relax()'s frame to `end`; null when the string could not be completed from there. */
  resume?(end: Frame): Frame | null;
}

/**
 * Whitespace between tokens, as llama.cpp's JSON grammar allows it: nothing, one space, or one
 * newline and up to MAX_INDENT spaces or tabs. `run` encodes what this gap holds so far: 0 none,
 * -1 a space, n > 0 a newline and n - 1 indentation characters. Returns the run after `byte`, or
 * null if `byte` is not whitespace allowed here. (Unbounded whitespace lets a weak model spend
 * its whole budget on blank lines.)
 */
export function nextWhitespace(run: number, byte: number): number | null {
  if (byte === 0x0a) return run === 0 ? 1 : null;
  if (byte === 0x20 && run === 0) return -1;
  if ((byte === 0x20 || byte === 0x09) && run > 0 && run <= MAX_INDENT) return run + 1;
  return null;
}
