// Regex Replace steps run on a linear-time engine (RE2) but must mean what they mean to Hugging
// Face's tokenizers (Oniguruma): each supported pattern is compared with the Rust library's
// normalizer on texts aimed at the differences (Unicode classes, line anchors, empty matches,
// surrogate pairs); what cannot be matched the same way is refused by name.
import { Tokenizer as RustTokenizer } from "tokenizers";
import { describe, expect, it } from "vitest";
import { tokenizerFromJson, UnsupportedComponentError } from "../src/index.js";
import { tinyTokenizerJson } from "./support/tiny-tokenizer-json.js";

const SUPPORTED = [
  "\\s+", "\\S+", "\\d", "\\D+", "\\w+", "\\W+", "\\h+", "\\H", "[\\s,]+", "[\\d_]", "[\\w-]+", "[^\\s]", "[\\D]", "[\\h]",
  "a*", "", ".", "$", "^", "^a|b$", "(?i)abc", "(?m).+", "(?i:é)", "(?-i:a)", "\\p{L}+", "\\p{Han}", "\\P{L}", "\\p{^L}", "[^a]", "a|ab",
  "\\.", "\\Aa", "a\\z", "\\x{1F600}", "\\u00e9", "\\x41", "\\t", "\\n", "\\e", "a{,2}", "a{2,}", "a{2}", "[]a]", "[^]a]", "[\\b]",
  "[a-c]+", "(a)(b)", "(?<name>a)", "x*?", " {2,}", "\\v", "\\f", "\\a", "(a|a)*b",
];

const REFUSED = ["\\bfoo", "\\B", "(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "a++", "a*+", "(?>a)", "[[:alpha:]]", "(a)\\1", "(?<n>a)\\k<n>", "\\Z", "\\Q.\\E", "[a&&b]", "[a[b]]", "[\\S]", "[\\W]", "(?x) a", "\\G", "\\K", "a{1001}"];

const TEXTS = [
  "",
  "a\u00a0b\u3000c  d\te\u0085f\u001cg\u000bh\u2028i\u000cj",
  "1٣२𝟎x ²³¹¼½¾⁴① Ⅷ",
  "héllo wörld_1 日本 ‿ a\u0301 ª µ º Ⓐ 🄰 \u200d",
  "baac",
  "ab😀c",
  "ab\ncd\n",
  "\n",
  "ABC abc ÉE é",
  "a.b aaaa aaaaaaaaaaaa!",
  "]a^b-c\b\u001b\u0007",
  "abab A1 f0 g ff",
];

function replaceJson(pattern: string, content: string): Record<string, any> {
  return { ...tinyTokenizerJson(), normalizer: { type: "Replace", pattern: { Regex: pattern }, content } };
}

describe("regex Replace normalizers", () => {
  it.each(SUPPORTED)("%j replaces what Hugging Face's tokenizers replaces", (pattern) => {
    const json = replaceJson(pattern, "<>");
    const reference = RustTokenizer.fromString(JSON.stringify(json)).getNormalizer()!;
    const ours = tokenizerFromJson(json).normalizer!;
    expect(TEXTS.map((text) => ours.normalize(text))).toEqual(TEXTS.map((text) => reference.normalizeString(text)));
  });

  it.each(REFUSED)("%j is refused with an UnsupportedComponentError (Hugging Face accepts it)", (pattern) => {
    const json = replaceJson(pattern, "x");
    expect(() => RustTokenizer.fromString(JSON.stringify(json))).not.toThrow();
    expect(() => tokenizerFromJson(json)).toThrow(UnsupportedComponentError);
  });

  // Its linear time on long runs is checked in a child process (hostile-input.test.ts); here, its meaning.
  it("matches a pattern that backtracks exponentially (Hugging Face's Oniguruma gives up on it and aborts the process)", () => {
    const ours = tokenizerFromJson(replaceJson("(a+)+$", "x")).normalizer!;
    expect(ours.normalize(`${"a".repeat(16)}!`)).toBe(`${"a".repeat(16)}!`);
    expect(ours.normalize("baaa")).toBe("bx");
    expect(ours.normalize("aa\naa!")).toBe("x\naa!");
  });

  it("decoders use the same patterns", () => {
    const json = tinyTokenizerJson();
    json.decoder = { type: "Sequence", decoders: [{ type: "Replace", pattern: { Regex: "\\s*▁" }, content: " " }, { type: "Fuse" }] };
    expect(tokenizerFromJson(json).decode([2, 5, 5, 3])).toBe("a  b");
  });
});
