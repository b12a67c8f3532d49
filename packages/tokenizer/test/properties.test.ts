// Property tests (fast-check) on Gemma's tokenizer: random strings drawn from full Unicode,
// mixed with the pieces that make tokenization hard, must round-trip and must encode exactly
// as Hugging Face's Rust tokenizers does.
import fc from "fast-check";
import { Tokenizer as RustTokenizer } from "tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Tokenizer } from "../src/index.js";
import { loadTokenizer } from "../src/node.js";
import { GEMMA_TOKENIZER_JSON } from "./support/fixtures.js";

let ours: Tokenizer;
let rust: RustTokenizer;

beforeAll(async () => {
  ours = await loadTokenizer(GEMMA_TOKENIZER_JSON);
  rust = RustTokenizer.fromFile(GEMMA_TOKENIZER_JSON);
});

const tricky = fc.constantFrom(
  " ", "  ", "\t", "\n", "\n\n", "\r\n", "<start_of_turn>", "<end_of_turn>", "<bos>", "<td>", "▁", "12", "😀", "👨‍👩‍👧", "é", "中",
);
/** Full Unicode (astral planes included), graphemes, ASCII, and tricky pieces, concatenated. */
const text = fc
  .array(fc.oneof(fc.string({ unit: "binary", maxLength: 8 }), fc.string({ unit: "grapheme", maxLength: 8 }), fc.string({ maxLength: 12 }), tricky), {
    maxLength: 12,
  })
  .map((parts) => parts.join(""));

describe("properties of Gemma's tokenizer", () => {
  it("decode(encode(x)) === x for any well-formed string without a literal '▁'", () => {
    fc.assert(
      fc.property(text, (value) => {
        fc.pre(!value.includes("▁"));
        expect(ours.decode(ours.encode(value, { addSpecialTokens: false }).ids)).toBe(value);
      }),
      { numRuns: 2000 },
    );
  });

  it("agrees with Rust tokenizers on random strings, ids and decode", async () => {
    await fc.assert(
      fc.asyncProperty(text, fc.boolean(), async (value, addSpecialTokens) => {
        const expected = (await rust.encode(value, null, { addSpecialTokens })).getIds();
        const ids = ours.encode(value, { addSpecialTokens }).ids;
        expect(Array.from(ids)).toEqual(expected);
        expect(ours.decode(ids)).toBe(await rust.decode(expected, false));
      }),
      { numRuns: 1500 },
    );
  });

  it("encodes a text as the concatenation of its parts split at added tokens", () => {
    fc.assert(
      fc.property(text, text, (left, right) => {
        const whole = ours.encode(`${left}<start_of_turn>${right}`, { addSpecialTokens: false }).ids;
        const parts = [...ours.encode(left, { addSpecialTokens: false }).ids, 106, ...ours.encode(right, { addSpecialTokens: false }).ids];
        expect(Array.from(whole)).toEqual(parts);
      }),
      { numRuns: 500 },
    );
  });
});
