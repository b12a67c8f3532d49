// The frame of a number with bounds (minimum, maximum, exclusive ones) or an integer multipleOf.
// Values are exact decimals in units of 10^-16 (BigInt): at most 16 integer and 16 fraction digits
// and no exponent, so every text parses to a finite double and rounding to the double cannot cross
// an inclusive bound (rounding is monotone). A byte is allowed only if some completion of the
// number lands in bounds; the cost is the fewest bytes to such a completion, found by trying each
// count of further integer digits and fraction digits (17 x 17 candidates, memoized per prefix).
// A prefix whose every completion is in bounds keys like the unbounded number it behaves as, so
// the token-mask memo still hits for most prefixes (zod's integers are bounded by +-2^53 - 1).
import type { NumberBounds, NumberNode } from "./json-schema.js";
import { PASS, ZERO, type Frame, type StepResult } from "./json-frame.js";

export const SCALE_DIGITS = 16;
const SCALE = 10n ** BigInt(SCALE_DIGITS);
const MAX_INT_DIGITS = 16;
const POW10 = Array.from({ length: 40 }, (_, k) => 10n ** BigInt(k));

type Phase = "minus" | "zero" | "int" | "dot" | "fraction";

interface Verdict {
  cost: number;
  closing: number[];
  /** Every completion is in bounds. */
  free: boolean;
}

const INF = Number.POSITIVE_INFINITY;

export class BoundedNumberFrame implements Frame {
  readonly key: string;
  readonly cost: number;
  readonly complete: boolean;
  readonly finished = false;
  readonly costAfterChild = 0;
  private readonly verdict: Verdict;

  private constructor(
    private readonly node: NumberNode,
    private readonly negative: boolean,
    private readonly phase: Phase,
    /** Integer part and its digit count. */
    private readonly int: bigint,
    private readonly intDigits: number,
    /** Fraction digits as an integer, and their count. */
    private readonly fraction: bigint,
    private readonly fractionDigits: number,
  ) {
    const bounds = node.bounds!;
    const exact = `NB${node.id}.${negative ? "-" : ""}${phase}.${int}.${fraction}.${fractionDigits}`;
    let verdict = bounds.memo.get(exact);
    if (!verdict) {
      verdict = this.evaluate(bounds);
      bounds.memo.set(exact, verdict);
    }
    this.verdict = verdict;
    this.cost = verdict.cost;
    this.complete = (phase === "zero" || phase === "int" || phase === "fraction") && this.inBounds(this.magnitude());
    this.key = verdict.free ? `NB${node.integer ? "i" : "n"}${phase}${intDigits}.${fractionDigits}` : exact;
  }

  static start(node: NumberNode, byte: number): BoundedNumberFrame | null {
    if (byte === 0x2d) return live(new BoundedNumberFrame(node, true, "minus", 0n, 0, 0n, 0));
    if (byte === ZERO) return live(new BoundedNumberFrame(node, false, "zero", 0n, 1, 0n, 0));
    if (byte > ZERO && byte <= 0x39) return live(new BoundedNumberFrame(node, false, "int", BigInt(byte - ZERO), 1, 0n, 0));
    return null;
  }

  private next(phase: Phase, int: bigint, intDigits: number, fraction: bigint, fractionDigits: number): BoundedNumberFrame | null {
    return live(new BoundedNumberFrame(this.node, this.negative, phase, int, intDigits, fraction, fractionDigits));
  }

  step(byte: number): StepResult {
    const digit = byte >= ZERO && byte <= 0x39;
    const d = BigInt(byte - ZERO);
    const decimal = !this.node.integer;
    switch (this.phase) {
      case "minus":
        if (byte === ZERO) return this.next("zero", 0n, 1, 0n, 0);
        return digit ? this.next("int", d, 1, 0n, 0) : null;
      case "zero":
      case "int":
        if (digit && this.phase === "int" && this.intDigits < MAX_INT_DIGITS) return this.next("int", this.int * 10n + d, this.intDigits + 1, 0n, 0);
        if (byte === 0x2e && decimal) return this.next("dot", this.int, this.intDigits, 0n, 0);
        if (digit) return null;
        return this.complete ? PASS : null;
      case "dot":
        return digit ? this.next("fraction", this.int, this.intDigits, d, 1) : null;
      case "fraction":
        if (digit) return this.fractionDigits < SCALE_DIGITS ? this.next("fraction", this.int, this.intDigits, this.fraction * 10n + d, this.fractionDigits + 1) : null;
        return this.complete ? PASS : null;
    }
  }

  closing(): number[] {
    return [...this.verdict.closing];
  }

  childDone(): Frame {
    return this;
  }

  closingAfterChild(): number[] {
    return [];
  }

  /** The magnitude typed so far, in units. */
  private magnitude(): bigint {
    return this.int * SCALE + this.fraction * POW10[SCALE_DIGITS - this.fractionDigits]!;
  }

  private inBounds(magnitude: bigint): boolean {
    const { lo, hi, multipleOf } = this.node.bounds!;
    const value = this.negative ? -magnitude : magnitude;
    if (lo !== null && value < lo) return false;
    if (hi !== null && value > hi) return false;
    return multipleOf === null || value % multipleOf === 0n;
  }

  /**
   * Candidates: `extra` more integer digits, then (decimals) a point and `fractionMore` fraction
   * digits. Each spans magnitudes [low, high] on a grid of `step` units; the first grid point in
   * bounds, if any, is the completion.
   */
  private evaluate(bounds: NumberBounds): Verdict {
    let best: { cost: number; magnitude: bigint; fractionMore: number } | null = null;
    let free = bounds.multipleOf === null;
    const consider = (cost: number, low: bigint, high: bigint, step: bigint, fractionMore: number) => {
      if (free && !this.spanInBounds(low, high)) free = false;
      if (best && best.cost <= cost) return;
      const point = this.firstPoint(low, high, step);
      if (point !== null) best = { cost, magnitude: point, fractionMore };
    };
    const integer = this.node.integer;
    const unitStep = bounds.multipleOf ?? SCALE;
    if (this.phase === "dot" || this.phase === "fraction") {
      const base = this.magnitude();
      for (let more = this.phase === "dot" ? 1 : 0; this.fractionDigits + more <= SCALE_DIGITS; more++) {
        const step = POW10[SCALE_DIGITS - this.fractionDigits - more]!;
        const span = POW10[SCALE_DIGITS - this.fractionDigits]! - step;
        consider(more, base, base + span, step, more);
      }
    } else {
      const intRanges: { extra: number; low: bigint; high: bigint }[] = [];
      if (this.phase === "minus") {
        intRanges.push({ extra: 1, low: 0n, high: 9n });
        for (let extra = 2; extra <= MAX_INT_DIGITS; extra++) intRanges.push({ extra, low: POW10[extra - 1]!, high: POW10[extra]! - 1n });
      } else if (this.phase === "zero") intRanges.push({ extra: 0, low: 0n, high: 0n });
      else for (let extra = 0; this.intDigits + extra <= MAX_INT_DIGITS; extra++) intRanges.push({ extra, low: this.int * POW10[extra]!, high: this.int * POW10[extra]! + POW10[extra]! - 1n });
      for (const { extra, low, high } of intRanges) {
        consider(extra, low * SCALE, high * SCALE, unitStep, 0);
        if (integer) continue;
        for (let more = 1; more <= SCALE_DIGITS; more++) {
          const step = POW10[SCALE_DIGITS - more]!;
          consider(extra + 1 + more, low * SCALE, high * SCALE + SCALE - step, step, more);
        }
      }
    }
    if (!best) return { cost: INF, closing: [], free: false };
    const chosen = best as { cost: number; magnitude: bigint; fractionMore: number };
    return { cost: chosen.cost, closing: this.spell(chosen.magnitude, chosen.fractionMore), free };
  }

  /** All of [low, high] (magnitudes) is in bounds. */
  private spanInBounds(low: bigint, high: bigint): boolean {
    const { lo, hi } = this.node.bounds!;
    const [min, max] = this.negative ? [-high, -low] : [low, high];
    return (lo === null || min >= lo) && (hi === null || max <= hi);
  }

  /** The first magnitude in [low, high] on the grid of `step` whose signed value is in bounds. */
  private firstPoint(low: bigint, high: bigint, step: bigint): bigint | null {
    const { lo, hi } = this.node.bounds!;
    let from = low;
    let to = high;
    if (this.negative) {
      if (hi !== null && -hi > from) from = -hi;
      if (lo !== null && -lo < to) to = -lo;
    } else {
      if (lo !== null && lo > from) from = lo;
      if (hi !== null && hi < to) to = hi;
    }
    if (from > to) return null;
    const point = ((from + step - 1n) / step) * step;
    return point <= to ? point : null;
  }

  /** The bytes after the prefix that spell `magnitude` with `fractionMore` more fraction digits. */
  private spell(magnitude: bigint, fractionMore: number): number[] {
    const text: string[] = [];
    if (this.phase === "dot" || this.phase === "fraction") {
      const digits = (magnitude % SCALE).toString().padStart(SCALE_DIGITS, "0");
      text.push(digits.slice(this.fractionDigits, this.fractionDigits + fractionMore));
    } else {
      const intText = (magnitude / SCALE).toString();
      text.push(this.phase === "minus" ? intText : intText.slice(this.intDigits));
      if (fractionMore > 0) text.push(".", (magnitude % SCALE).toString().padStart(SCALE_DIGITS, "0").slice(0, fractionMore));
    }
    return Array.from(text.join(""), (c) => c.charCodeAt(0));
  }
}

function live(frame: BoundedNumberFrame): BoundedNumberFrame | null {
  return frame.cost === INF ? null : frame;
}
