// Fuzzing tokenizerFromJson: a small valid tokenizer.json is mutated byte by byte and field by
// field (lying ids, long strings and lists, deep Sequence nesting, deep raw JSON, regex patterns,
// Replace chains that multiply the text, type confusion), and every case must load and encode, or
// end in a typed error, within the child's time and memory bounds.
import { applyByteMutation, byteMutations, deeplyNestedJson, fuzzParser, fuzzRuns, ParserChild } from "@gemma-ts/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenizerJson } from "../../src/index.js";
import { smallTokenizerJson } from "../support/small-tokenizer-json.js";
import { summarizeFindings } from "./findings.js";

type Json = Record<string, any>;
/** Edits the file in place; `raw` holds JSON text for placeholders too deep to stringify. */
type Mutation = (json: Json, raw: Map<string, string>) => void;

// Ids around every boundary an id can cross: int32, uint32, the old 4-billion-slot array,
// the limit, doubles that are not indexes, and non-numbers.
const LYING_IDS = [
  -1, 0.5, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e308, 4_194_303, 4_194_304, "7", null, true,
];

// Patterns that backtrack exponentially in a backtracking engine, and constructs RE2 lacks.
const PATTERNS = [
  "(a+)+$", "(a|a)*b", "(a*)*$", "(.*a){20}", "((a+)+)+!", "(a|aa)+$", "(\\w+\\s?)+$", "^(([a-z])+.)+[A-Z]([a-z])+$",
  "(?=a)", "(?<=a)b", "(?!a)", "(a)\\1", "a++", "(?>a+)", "\\bthe\\b", "[[:alpha:]]", "[a&&b]", "(?x) a", "\\Z",
  ".{1000}", "(?:x*y*z*){300}", "", "a*", "^", "$", "\\s+", "\\p{L}+", "[^\\s]+", "(?i)THE", "x{,3}", "\\u2581", "[", "(", "a{1001}", "\\", "*",
];

const anyString = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("", "▁", " ", "$&", "$1", "\\", "a"), fc.string({ unit: "grapheme", maxLength: 4 }));

function tokenKeys(json: Json): string[] {
  return Object.keys(json.model.vocab);
}

const leafNormalizer = fc.constantFrom<Json>({ type: "Lowercase" }, { type: "NFKC" }, { type: "Replace", pattern: { String: " " }, content: "▁" }, { type: "Strip" });
const leafDecoder = fc.constantFrom<Json>({ type: "Fuse" }, { type: "ByteFallback" }, { type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "Strip", content: " ", start: 1, stop: 0 });

/** A placeholder for `leaf` inside `depth` Sequences, as text (JSON.stringify would overflow). */
function nest(leaf: Json, depth: number, kind: "normalizers" | "decoders", raw: Map<string, string>): string {
  const placeholder = `@@nested-${raw.size}@@`;
  raw.set(placeholder, `{"type":"Sequence","${kind}":[`.repeat(depth) + JSON.stringify(leaf) + "]}".repeat(depth));
  return placeholder;
}

/** Sizes mostly within the limits (so the file loads and the encoder runs), some past them. */
function size(within: number, past: number): fc.Arbitrary<number> {
  return fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: within }) }, { weight: 1, arbitrary: fc.integer({ min: within + 1, max: past }) });
}

// A vocabulary or added-token id that lies.
const lyingId: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.constantFrom(...LYING_IDS), fc.boolean()).map(([pick, id, added]) => (json) => {
  if (added) json.added_tokens[pick % json.added_tokens.length].id = id;
  else json.model.vocab[tokenKeys(json)[pick % tokenKeys(json).length]!] = id;
});

// Long tokens, many or long added tokens.
const longTokens: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(size(1024, 5000), fc.boolean()).map(([length, added]): Mutation => (json) => {
    const token = "a".repeat(length);
    if (added) json.added_tokens.push({ id: 700, content: token, special: false, normalized: true, lstrip: false, rstrip: false, single_word: false });
    else json.model.vocab[token] = 700;
  }),
  size(1000, 3000).map((count): Mutation => (json) => {
    for (let i = 0; i < count; i++) json.added_tokens.push({ id: 1000 + i, content: `<extra_${i}>`.repeat(1 + (i % 7)), special: i % 2 === 0 });
  }),
);

// Normalizers and decoders nested deeply (past the stack, some of them).
const deepNesting: fc.Arbitrary<Mutation> = fc
  .tuple(fc.oneof(size(64, 100), fc.constantFrom(63, 64, 65, 1000, 5000, 20000)), leafNormalizer, leafDecoder, fc.boolean())
  .map(([depth, normalizer, decoder, onDecoder]) => (json, raw) => {
    if (onDecoder) json.decoder = nest(decoder, depth, "decoders", raw);
    else json.normalizer = nest(normalizer, depth, "normalizers", raw);
  });

// Regex Replace steps: catastrophic, unsupported, malformed, random.
const regexStep: fc.Arbitrary<Mutation> = fc
  .tuple(fc.oneof(fc.constantFrom(...PATTERNS), fc.string({ maxLength: 12 })), anyString, fc.boolean())
  .map(([pattern, content, onDecoder]) => (json) => {
    const step = { type: "Replace", pattern: { Regex: pattern }, content };
    if (onDecoder) json.decoder = { type: "Sequence", decoders: [step, ...json.decoder.decoders] };
    else json.normalizer = { type: "Sequence", normalizers: [json.normalizer, step] };
  });

// A chain of Replace steps (and a Prepend) that multiplies the text.
const growth: fc.Arbitrary<Mutation> = fc
  .tuple(fc.integer({ min: 1, max: 40 }), size(4, 4096), fc.boolean(), fc.boolean())
  .map(([steps, factor, regex, onDecoder]) => (json) => {
    const step = { type: "Replace", pattern: regex ? { Regex: "a|" } : { String: "a" }, content: "a".repeat(factor) };
    if (onDecoder) json.decoder = { type: "Sequence", decoders: [...Array(steps).fill(step), ...json.decoder.decoders] };
    else json.normalizer = { type: "Sequence", normalizers: [json.normalizer, ...Array(steps).fill(step), { type: "Prepend", prepend: "x".repeat(factor) }] };
  });

// Long strings and lists in components; Strip counts that lie.
const longComponents: fc.Arbitrary<Mutation> = fc
  .tuple(size(4096, 10_000), size(1023, 2000), fc.constantFrom(0, 1, 2 ** 31, 2 ** 53, -1, 0.5))
  .map(([length, count, strip]) => (json) => {
    json.normalizer = { type: "Sequence", normalizers: [...Array(count).fill({ type: "Lowercase" }), { type: "Prepend", prepend: "▁".repeat(length) }] };
    json.decoder.decoders.push({ type: "Strip", content: " ", start: strip, stop: strip });
  });

// Post-processor templates with many or lying ids.
const template: fc.Arbitrary<Mutation> = fc
  .tuple(size(1023, 3000), fc.oneof(fc.nat({ max: 700 }), fc.constantFrom(...LYING_IDS)))
  .map(([count, id]) => (json) => {
    json.post_processor = {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      special_tokens: { "<bos>": { id: "<bos>", ids: [...Array(count).fill(2), id], tokens: [] } },
    };
  });

// Merges that refer to nothing, are malformed, or are repeated.
const badMerges: fc.Arbitrary<Mutation> = fc
  .tuple(fc.nat(), fc.constantFrom<unknown>("a", "a b c", ["a"], ["a", "b", "c"], 7, null, "<0x41> <0x42>", "▁ ▁", "a a"), fc.integer({ min: 1, max: 2000 }))
  .map(([pick, merge, repeat]) => (json) => {
    const at = pick % (json.model.merges.length + 1);
    json.model.merges.splice(at, 0, ...Array(repeat % 3 === 0 ? repeat : 1).fill(merge));
  });

// Any field replaced by any JSON value.
const typeConfusion: fc.Arbitrary<Mutation> = fc
  .tuple(
    fc.constantFrom("model.vocab", "model.merges", "model.type", "model.unk_token", "model.byte_fallback", "model.dropout", "added_tokens", "normalizer", "decoder", "post_processor", "pre_tokenizer", "normalizer.pattern", "decoder.decoders"),
    fc.jsonValue({ maxDepth: 3 }),
  )
  .map(([path, value]) => (json) => {
    const keys = path.split(".");
    let node = json;
    for (const key of keys.slice(0, -1)) node = node?.[key];
    if (node && typeof node === "object") node[keys.at(-1)!] = value;
  });

// Weighted toward what can still load, so the encoder and decoder run on hostile components.
const mutation = fc.oneof(
  { weight: 2, arbitrary: lyingId },
  { weight: 1, arbitrary: longTokens },
  { weight: 2, arbitrary: deepNesting },
  { weight: 4, arbitrary: regexStep },
  { weight: 2, arbitrary: growth },
  { weight: 1, arbitrary: longComponents },
  { weight: 1, arbitrary: template },
  { weight: 1, arbitrary: badMerges },
  { weight: 1, arbitrary: typeConfusion },
);

/** Field-level mutations of the valid file, then the text; a few raw deep-JSON splices. */
function structuralCases(valid: TokenizerJson): fc.Arbitrary<string> {
  const mutated = fc.array(mutation, { minLength: 1, maxLength: 2 }).map((mutations) => {
    const json = structuredClone(valid) as Json;
    const raw = new Map<string, string>();
    for (const mutate of mutations) {
      try {
        mutate(json, raw);
      } catch {
        // An earlier mutation replaced what this one edits: keep the file as it is.
      }
    }
    let text = JSON.stringify(json);
    for (const [placeholder, nested] of raw) text = text.replace(`"${placeholder}"`, () => nested);
    return text;
  });
  const deepRaw = fc
    .tuple(fc.constantFrom(100, 10_000, 200_000), fc.constantFrom("normalizer", "decoder", "model", "added_tokens", "(root)"), fc.constantFrom(undefined, "type", "normalizers"))
    .map(([depth, field, key]) => {
      const nested = deeplyNestedJson(depth, key);
      if (field === "(root)") return nested;
      return JSON.stringify({ ...valid, [field]: "@NESTED@" }).replace('"@NESTED@"', nested);
    });
  return fc.oneof({ weight: 9, arbitrary: mutated }, { weight: 1, arbitrary: deepRaw });
}

describe("fuzz: tokenizer.json", () => {
  let valid: TokenizerJson;
  let child: ParserChild;

  beforeAll(async () => {
    valid = await smallTokenizerJson();
    child = new ParserChild({
      module: new URL("./targets/tokenizer.ts", import.meta.url).href,
      exportName: "loadTokenizerJson",
      timeoutMs: 5000,
      maxOldSpaceMb: 512,
      maxRssBytes: 1 << 30,
    });
  });

  afterAll(async () => {
    await child?.close();
  });

  it("byte mutations of a valid file: a tokenizer or a typed error", async () => {
    const bytes = new TextEncoder().encode(JSON.stringify(valid));
    const report = await fuzzParser({
      parser: "tokenizer.json (bytes)",
      child,
      arbitrary: byteMutations(bytes).map((m) => applyByteMutation(bytes, m)),
      runs: fuzzRuns(150),
      seed: 8,
    });
    expect(summarizeFindings(report.findings)).toEqual([]);
  }, 600_000);

  it("field mutations (lying ids, long lists, deep nesting, regexes, growth): a tokenizer or a typed error", async () => {
    const report = await fuzzParser({
      parser: "tokenizer.json (structure)",
      child,
      arbitrary: structuralCases(valid),
      runs: fuzzRuns(150),
      seed: 9,
    });
    expect(summarizeFindings(report.findings)).toEqual([]);
  }, 600_000);
});
