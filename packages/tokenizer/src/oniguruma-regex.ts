// The {Regex: ...} patterns of tokenizer.json are Oniguruma patterns (Ruby syntax), which is what
// Hugging Face's tokenizers compiles them with. They run here on RE2 (the re2js port), whose
// matching time is linear in the text whatever the pattern, so a pattern such as (a+)+$ cannot
// hang the encoder. The two syntaxes mostly agree; where they differ this file either rewrites
// the pattern into RE2's terms with Oniguruma's meaning, or refuses it with an
// UnsupportedComponentError naming the construct, never silently matching something else:
// - \s \d \w \h and their negations are Unicode-aware in Oniguruma, ASCII-only in RE2: rewritten
//   as the Unicode classes Oniguruma uses (White_Space, Nd, Alphabetic/M/Nd/Pc, hex digits).
// - ^ and $ always match at line breaks in Ruby syntax (RE2's multi-line mode), but ^ not at the
//   very end; Ruby's (?m) is RE2's (?s) (dot matches newline); {,n} means {0,n}; \uHHHH is
//   \x{HHHH}; \e is ESC.
// - refused: lookaround, backreferences, atomic groups and possessive quantifiers (RE2 cannot run
//   them in linear time), \b and \B (ASCII-only in RE2), POSIX brackets, nested classes and class
//   intersections, negated shorthands inside brackets, extended mode (?x), and whatever else RE2
//   does not parse.
import { RE2JS } from "re2js";
import { UnsupportedComponentError } from "./errors.js";
import { checkLimit } from "./limits.js";

const WHITE_SPACE = "\\t-\\r\\x{85}\\p{Z}";
// Alphabetic | Mark | Decimal_Number | Connector_Punctuation; the ranges are the Alphabetic
// characters outside L, M and Nl (circled and squared letters).
const WORD = "\\p{L}\\p{M}\\p{Nd}\\p{Nl}\\p{Pc}\\x{24B6}-\\x{24E9}\\x{1F130}-\\x{1F149}\\x{1F150}-\\x{1F169}\\x{1F170}-\\x{1F189}";
// Outside brackets Oniguruma also counts the Latin-1 digits and fractions (² ³ ¹ ¼ ½ ¾) as word characters.
const WORD_OUTSIDE = `${WORD}\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}`;
const HEX = "0-9a-fA-F";
/** An empty class: matches nothing. */
const NOTHING = "[^\\x00-\\x{10FFFF}]";

/** Shorthand classes: their members for use inside brackets, or undefined when negated. */
const SHORTHANDS: Record<string, { inside: string | undefined; outside: string }> = {
  s: { inside: WHITE_SPACE, outside: `[${WHITE_SPACE}]` },
  S: { inside: undefined, outside: `[^${WHITE_SPACE}]` },
  d: { inside: "\\p{Nd}", outside: "\\p{Nd}" },
  D: { inside: "\\P{Nd}", outside: "\\P{Nd}" },
  w: { inside: WORD, outside: `[${WORD_OUTSIDE}]` },
  W: { inside: undefined, outside: `[^${WORD_OUTSIDE}]` },
  h: { inside: HEX, outside: `[${HEX}]` },
  H: { inside: undefined, outside: `[^${HEX}]` },
};

const WHY = "patterns run on a linear-time (RE2) engine";

export interface CompiledPattern {
  regex: RE2JS;
  /**
   * The same pattern with every ^ made unmatchable, when it has one: Oniguruma's ^ never matches
   * at the end of the text (after a final newline), RE2's does, so an empty match there counts
   * only if this one finds it too.
   */
  withoutLineStarts: RE2JS | undefined;
}

/** Compiles an Oniguruma pattern from a tokenizer.json; `where` names it in errors. */
export function compileOnigurumaPattern(pattern: string, where: string): CompiledPattern {
  const { translated, lineStarts } = translate(pattern, where);
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(translated, RE2JS.MULTILINE);
  } catch (error) {
    throw new UnsupportedComponentError(
      `regular expression at ${where}`,
      `${JSON.stringify(pattern)}: ${(error as Error).message} (${WHY}: lookaround, backreferences, atomic groups and possessive quantifiers are not supported)`,
    );
  }
  checkLimit("regexProgramSize", `the compiled size of the regular expression at ${where}`, regex.programSize());
  if (lineStarts.length === 0) return { regex, withoutLineStarts: undefined };
  // The same pattern less its line starts cannot fail to compile where the pattern compiled.
  let without = "";
  let from = 0;
  for (const at of lineStarts) {
    without += `${translated.slice(from, at)}${NOTHING}`;
    from = at + 1;
  }
  return { regex, withoutLineStarts: RE2JS.compile(without + translated.slice(from), RE2JS.MULTILINE) };
}

/** The pattern in RE2's syntax, and where its ^ anchors are in it. */
function translate(pattern: string, where: string): { translated: string; lineStarts: number[] } {
  const refuse = (construct: string): never => {
    throw new UnsupportedComponentError(`regular expression at ${where}`, `${JSON.stringify(pattern)} uses ${construct} (${WHY})`);
  };
  let out = "";
  let inClass = false;
  // Where the current class's members start in `out`: a ']' there is a literal, not the end.
  let classStart = 0;
  const lineStarts: number[] = [];
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (c === "\\") {
      const next = pattern[i + 1];
      if (next === undefined) {
        out += c;
        i++;
        continue;
      }
      const braced = /^\\[pPx]\{[^}]*\}/.exec(pattern.slice(i, i + 64));
      if (braced) {
        out += braced[0];
        i += braced[0].length;
        continue;
      }
      const shorthand = SHORTHANDS[next];
      if (shorthand) {
        if (!inClass) out += shorthand.outside;
        else if (shorthand.inside !== undefined) out += shorthand.inside;
        else refuse(`\\${next} inside a bracket class`);
      } else if (next === "b" && inClass) {
        out += "\\x{08}"; // a backspace inside brackets
      } else if (next === "b" || next === "B") {
        refuse(`the word boundary \\${next}, which is ASCII-only in RE2`);
      } else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(pattern.slice(i + 2, i + 6))) {
        out += `\\x{${pattern.slice(i + 2, i + 6)}}`;
        i += 6;
        continue;
      } else if (next === "e") {
        out += "\\x{1B}";
      } else if (/[1-9kgKGRXZQE]/.test(next)) {
        refuse(`\\${next} (backreferences, subexpression calls and Oniguruma-only escapes)`);
      } else {
        out += c + next;
      }
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === "[") refuse(pattern.startsWith("[:", i) ? "a POSIX bracket expression" : "a nested character class");
      if (c === "&" && pattern[i + 1] === "&") refuse("a character class intersection (&&)");
      if (c === "]" && out.length > classStart) inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      i++;
      if (pattern[i] === "^") {
        out += "^";
        i++;
      }
      classStart = out.length;
      continue;
    }
    if (c === "(" && pattern[i + 1] === "?") {
      const flags = /^\(\?([imx]*)(?:-([imx]*))?([:)])/.exec(pattern.slice(i));
      if (flags) {
        const [whole, on = "", off = "", end] = flags;
        if (on.includes("x") || off.includes("x")) refuse("extended mode (?x)");
        // Ruby's m is dot-matches-newline, RE2's s; ^ and $ already match at line breaks.
        const rubyToRe2 = (set: string): string => set.replace("m", "s");
        out += `(?${rubyToRe2(on)}${off ? `-${rubyToRe2(off)}` : ""}${end}`;
        i += whole.length;
        continue;
      }
    }
    if (c === "^") lineStarts.push(out.length);
    if (c === "{") {
      const upTo = /^\{,(\d+)\}/.exec(pattern.slice(i));
      if (upTo) {
        out += `{0,${upTo[1]}}`;
        i += upTo[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return { translated: out, lineStarts };
}
