// Which pieces the trainer may create: spm's IsValidSentencePiece (trainer_interface.cc) as a test
// on two pieces about to merge, from facts kept per piece: at most maxPieceLength characters, '▁'
// only in front (or all '▁', if allowed), digits alone (split_digits), one script. Unlike spm, '\t'
// may join pieces: spm reserves it as an internal boundary marker, which this trainer needs not.
import { ANY_SCRIPT, scriptOf } from "./unicode-script.js";

const SPACE_MARK = 0x2581;
const WHITESPACE_ONLY = 1;
const HAS_WHITESPACE = 2;
const DIGIT = 4;

export interface PieceRuleOptions {
  maxPieceLength: number;
  splitDigits: boolean;
  allowWhitespaceOnlyPieces: boolean;
  splitByUnicodeScript: boolean;
}

/** The pieces the trainer knows, by symbol id: single characters first, then merged pieces. */
export class PieceTable {
  readonly strings: string[] = [];
  /** Length in characters (code points), as spm counts it. */
  private readonly lengths: number[] = [];
  /** The one script of the piece's characters, or ANY_SCRIPT when none has one (e.g. '▁'). */
  private readonly scripts: number[] = [];
  private readonly flags: number[] = [];

  constructor(private readonly rules: PieceRuleOptions) {}

  get size(): number {
    return this.strings.length;
  }

  /** Adds a single-character piece; returns its symbol id. */
  addCharacter(codePoint: number): number {
    const isSpace = codePoint === SPACE_MARK;
    // spm's is_unicode_decimal_number: ASCII and full-width digits.
    const isDigit = (codePoint >= 0x30 && codePoint <= 0x39) || (codePoint >= 0xff10 && codePoint <= 0xff19);
    this.strings.push(String.fromCodePoint(codePoint));
    this.lengths.push(1);
    this.scripts.push(isSpace ? ANY_SCRIPT : scriptOf(codePoint));
    this.flags.push((isSpace ? WHITESPACE_ONLY | HAS_WHITESPACE : 0) | (isDigit ? DIGIT : 0));
    return this.strings.length - 1;
  }

  /** Adds the piece `left + right` (which canMerge allowed); returns its symbol id. */
  addMerged(left: number, right: number): number {
    const leftScript = this.scripts[left]!;
    this.strings.push(this.strings[left]! + this.strings[right]!);
    this.lengths.push(this.lengths[left]! + this.lengths[right]!);
    this.scripts.push(leftScript !== ANY_SCRIPT ? leftScript : this.scripts[right]!);
    const leftFlags = this.flags[left]!;
    const rightFlags = this.flags[right]!;
    this.flags.push((leftFlags & rightFlags & WHITESPACE_ONLY) | ((leftFlags | rightFlags) & HAS_WHITESPACE));
    return this.strings.length - 1;
  }

  length(symbol: number): number {
    return this.lengths[symbol]!;
  }

  /** Whether `left + right` is a valid piece, given that both are. */
  canMerge(left: number, right: number): boolean {
    const { rules } = this;
    if (this.lengths[left]! + this.lengths[right]! > rules.maxPieceLength) return false;
    const leftFlags = this.flags[left]!;
    const rightFlags = this.flags[right]!;
    if (rules.splitDigits && ((leftFlags | rightFlags) & DIGIT) !== 0) return false;
    if ((rightFlags & HAS_WHITESPACE) !== 0) {
      // '▁' inside the result: only a piece of nothing but '▁' may have that.
      return rules.allowWhitespaceOnlyPieces && (leftFlags & rightFlags & WHITESPACE_ONLY) !== 0;
    }
    // '▁▁' + 'x' would put a '▁' after the first character of a piece that is not all '▁'.
    if ((leftFlags & WHITESPACE_ONLY) !== 0 && this.lengths[left]! > 1) return false;
    if (rules.splitByUnicodeScript) {
      const leftScript = this.scripts[left]!;
      const rightScript = this.scripts[right]!;
      if (leftScript !== ANY_SCRIPT && rightScript !== ANY_SCRIPT && leftScript !== rightScript) return false;
    }
    return true;
  }
}
