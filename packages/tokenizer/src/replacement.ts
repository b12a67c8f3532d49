// The Replace step of Hugging Face's normalizers and decoders: every match of a pattern (a literal
// string or an Oniguruma regex, see oniguruma-regex.ts) becomes `content`, taken literally ("$&"
// is two characters, not the match). A step whose output would pass its length budget stops with
// a TokenizerLimitError before building it, so a chain of Replace steps cannot multiply a short
// text into gigabytes.
import type { RE2JS } from "re2js";
import { checkOutputLength } from "./limits.js";
import { type CompiledPattern, compileOnigurumaPattern } from "./oniguruma-regex.js";

export type ReplacePattern = { literal: string } | { regex: string };

export class Replacement {
  private readonly literal: string | undefined;
  private readonly regex: CompiledPattern | undefined;
  /** String.replaceAll expands "$&" and the like in a replacement string, but not in a function's result. */
  private readonly replacer: (() => string) | undefined;
  private readonly mayGrow: boolean;

  /** `where` names the step in errors, e.g. `normalizer.normalizers[0]`. */
  constructor(
    pattern: ReplacePattern,
    private readonly content: string,
    private readonly where: string,
  ) {
    // An empty literal matches between characters: the regex engine steps by code points, as
    // Oniguruma does, where String.replaceAll would also split surrogate pairs. A regex without
    // metacharacters is a literal, and String.replaceAll finds it faster than the regex engine.
    const literal = "literal" in pattern ? pattern.literal : /^[^\\^$.|?*+()[\]{}]+$/.test(pattern.regex) ? pattern.regex : undefined;
    if (literal) this.literal = literal;
    else this.regex = compileOnigurumaPattern("regex" in pattern ? pattern.regex : "", where);
    this.replacer = content.includes("$") ? () => content : undefined;
    this.mayGrow = this.literal === undefined || content.length > this.literal.length;
  }

  /** `text` with every match replaced; throws if the result would be longer than `maxLength`. */
  apply(text: string, maxLength: number): string {
    const literal = this.literal;
    if (literal === undefined) return this.applyRegex(text, maxLength);
    if (this.mayGrow) {
      let count = 0;
      for (let at = text.indexOf(literal); at >= 0; at = text.indexOf(literal, at + literal.length)) count++;
      checkOutputLength(this.where, text.length + count * (this.content.length - literal.length), maxLength);
    }
    return this.replacer ? text.replaceAll(literal, this.replacer) : text.replaceAll(literal, this.content);
  }

  private applyRegex(text: string, maxLength: number): string {
    // Hugging Face looks for no match in an empty string (not even an empty one).
    if (text.length === 0) return text;
    const { regex, withoutLineStarts } = this.regex!;
    const matcher = regex.matcher(text);
    const { content } = this;
    let out = "";
    let copied = 0;
    let previousEnd = -1;
    let matched = false;
    while (matcher.find()) {
      const start = matcher.start();
      const end = matcher.end();
      // Oniguruma's iteration (and so Hugging Face's) skips an empty match where a match ended.
      if (start === end && start === previousEnd) continue;
      if (start === text.length && withoutLineStarts && text.endsWith("\n") && !matchesEmptyAtEnd(withoutLineStarts, text)) continue;
      checkOutputLength(this.where, out.length + (start - copied) + content.length, maxLength);
      out += text.slice(copied, start) + content;
      copied = end;
      previousEnd = end;
      matched = true;
    }
    if (!matched) return text;
    checkOutputLength(this.where, out.length + (text.length - copied), maxLength);
    return out + text.slice(copied);
  }
}

function matchesEmptyAtEnd(regex: RE2JS, text: string): boolean {
  const matcher = regex.matcher(text);
  return matcher.find(text.length) && matcher.start() === text.length;
}
