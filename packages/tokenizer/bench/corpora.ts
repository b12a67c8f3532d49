// The benchmark's texts. sotu: the State of the Union addresses (~10 MB of English prose, one
// text per speech). mix: ~3 MB of code (TypeScript's own lib .d.ts files) and multilingual text
// in 40 scripts and languages, generated from the CLDR data built into Node's ICU (language,
// region and currency names, dates, relative times, lists), i.e. real text, not random strings.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/** The speeches, in file-name order: the tests' own copy of the corpus. */
export { sotuTexts as sotuCorpus } from "../test/support/fixtures.js";

const LOCALES = [
  "ar", "bn", "cs", "de", "el", "es", "fa", "fi", "fr", "he", "hi", "hu", "id", "it", "ja", "ka", "ko", "ml", "mr", "my",
  "nl", "pl", "pt", "ro", "ru", "sr", "sv", "sw", "ta", "te", "th", "tr", "uk", "ur", "vi", "zh", "zh-Hant", "am", "hy", "km",
];
const CODES = ["en", "fr", "de", "ja", "zh", "ar", "ru", "hi", "es", "pt", "ko", "it", "tr", "vi", "th", "sw", "he", "el"];
const REGIONS = ["US", "FR", "DE", "JP", "CN", "EG", "RU", "IN", "BR", "KR", "NG", "MX", "ID", "TR", "VN", "KE", "IL", "GR"];

function multilingualText(): string {
  const lines: string[] = [];
  const date = new Date(Date.UTC(2024, 6, 31, 13, 45));
  for (const locale of LOCALES) {
    const languages = new Intl.DisplayNames([locale], { type: "language" });
    const regions = new Intl.DisplayNames([locale], { type: "region" });
    const currencies = new Intl.DisplayNames([locale], { type: "currency" });
    const list = new Intl.ListFormat(locale, { type: "conjunction" });
    const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
    lines.push(list.format(CODES.map((code) => languages.of(code) ?? code)));
    lines.push(list.format(REGIONS.map((code) => regions.of(code) ?? code)));
    lines.push(list.format(["USD", "EUR", "JPY", "INR", "CNY"].map((code) => currencies.of(code) ?? code)));
    lines.push(new Intl.DateTimeFormat(locale, { dateStyle: "full", timeStyle: "long", timeZone: "UTC" }).format(date));
    lines.push([-3, -1, 0, 1, 2, 7].map((days) => relative.format(days, "day")).join("; "));
    lines.push(new Intl.NumberFormat(locale, { style: "currency", currency: "EUR" }).format(1234567.891));
  }
  return lines.join("\n");
}

function codeText(): string {
  const folder = dirname(require.resolve("typescript/package.json"));
  const lib = join(folder, "lib");
  return readdirSync(lib)
    .filter((name) => name.startsWith("lib.") && name.endsWith(".d.ts"))
    .sort()
    .map((name) => readFileSync(join(lib, name), "utf8"))
    .join("\n");
}

/** Code and multilingual text interleaved in ~20 kB documents, ~3 MB in all. */
export function mixCorpus(): string[] {
  const code = codeText();
  const multilingual = multilingualText();
  const documents: string[] = [];
  const size = 20_000;
  for (let at = 0, round = 0; at < code.length && documents.length < 150; at += size, round++) {
    documents.push(code.slice(at, at + size));
    const start = (round * 2_000) % Math.max(1, multilingual.length - 4_000);
    documents.push(multilingual.slice(start, start + 4_000));
  }
  return documents;
}
