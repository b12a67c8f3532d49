// Gemma's real tokenizer.json, encoded by gemma-ts and by Hugging Face's Rust tokenizers in the
// same test: ids must be identical, with and without special tokens, on thousands of varied
// strings and on the whole State of the Union corpus line by line; decode must match too.
import { Tokenizer as RustTokenizer } from "tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Tokenizer } from "../src/index.js";
import { loadTokenizer } from "../src/node.js";
import { GEMMA_TOKENIZER_JSON, sotuTexts } from "./support/fixtures.js";
import { variedStrings } from "./support/varied-strings.js";

let ours: Tokenizer;
let rust: RustTokenizer;

beforeAll(async () => {
  ours = await loadTokenizer(GEMMA_TOKENIZER_JSON);
  rust = RustTokenizer.fromFile(GEMMA_TOKENIZER_JSON);
});

async function rustIds(texts: string[], addSpecialTokens: boolean): Promise<number[][]> {
  const encodings = await rust.encodeBatch(texts, { addSpecialTokens });
  return encodings.map((encoding) => encoding.getIds());
}

/** Compares every text and reports the first few mismatches in full, not just a count. */
async function expectSameIds(texts: string[], addSpecialTokens: boolean): Promise<void> {
  const expected = await rustIds(texts, addSpecialTokens);
  const mismatches: { text: string; ours: string; rust: string }[] = [];
  texts.forEach((text, i) => {
    const got = Array.from(ours.encode(text, { addSpecialTokens }).ids).join(",");
    const want = expected[i]!.join(",");
    if (got !== want) mismatches.push(describeMismatch(text, got, want));
  });
  expect(mismatches.slice(0, 3)).toEqual([]);
  expect(mismatches.length).toBe(0);
}

/** Keeps a failure report readable when the text is megabytes long: show where ids diverge. */
function describeMismatch(text: string, got: string, want: string) {
  let at = 0;
  while (at < got.length && got[at] === want[at]) at++;
  const window = (ids: string) => ids.slice(Math.max(0, at - 40), at + 80);
  return { text: text.slice(0, 200), ours: window(got), rust: window(want) };
}

async function expectSameDecode(texts: string[], skipSpecialTokens: boolean): Promise<void> {
  const idLists = await rustIds(texts, true);
  const expected = await rust.decodeBatch(idLists, skipSpecialTokens);
  const got = idLists.map((ids) => ours.decode(ids, { skipSpecialTokens }));
  const mismatches = got.flatMap((text, i) => (text === expected[i] ? [] : [{ got: text, want: expected[i] }]));
  expect(mismatches.slice(0, 3)).toEqual([]);
}

describe("gemma-ts against Rust tokenizers on Gemma's tokenizer.json", () => {
  const varied = variedStrings(3000);

  it("has Gemma's vocabulary and special ids", () => {
    expect(ours.vocabSize).toBe(rust.getVocabSize(true));
    expect(ours.special).toEqual({ pad: 0, eos: 1, bos: 2, unk: 3, startOfTurn: 106, endOfTurn: 107 });
    for (const id of [0, 1, 2, 106, 107, 138, 255, 4521, 235248, 255999]) {
      expect(ours.idToToken(id)).toBe(rust.idToToken(id));
    }
  });

  it("matches the transformers.js golden case", () => {
    expect(Array.from(ours.encode("How are you doing?").ids)).toEqual([2, 2299, 708, 692, 3900, 235336]);
  });

  it("encodes 3,000 varied strings id for id, without special tokens", async () => {
    await expectSameIds(varied, false);
  });

  it("encodes 3,000 varied strings id for id, with special tokens", async () => {
    await expectSameIds(varied, true);
  });

  it("decodes id for id, keeping and skipping special tokens", async () => {
    await expectSameDecode(varied, false);
    await expectSameDecode(varied, true);
  });

  it("round-trips every string without a literal '▁'", () => {
    for (const text of varied.filter((t) => !t.includes("▁"))) {
      expect(ours.decode(ours.encode(text, { addSpecialTokens: false }).ids)).toBe(text);
    }
  });

  it("encodes long texts with no cut points (one huge BPE word) like Rust", async () => {
    const noSpaces = "汉字ABC".repeat(5000) + "x".repeat(3000) + "ab".repeat(4000);
    await expectSameIds([noSpaces, `${"▁".repeat(100)}word`, " ".repeat(500)], false);
  });

  it("replaces lone surrogates with U+FFFD, as the Rust binding does", async () => {
    const texts = ["a\ud800b", "\udfff", "x\ud83d", "\ud83d\ude00\ud83d"];
    await expectSameIds(texts, false);
  });

  it("encodes the whole State of the Union corpus line by line, id for id", async () => {
    const lines = sotuTexts().flatMap((text) => text.split("\n"));
    expect(lines.join("").length).toBeGreaterThan(9_000_000);
    await expectSameIds(lines, false);
  });

  it("encodes whole speeches (newlines included) id for id, with special tokens", async () => {
    await expectSameIds(sotuTexts().slice(0, 40), true);
  });
});
