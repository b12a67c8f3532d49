// The memoized token masks against masks computed afresh, token by token, from the state machine.
// Inside a string the mask is assembled from a walk that ignores the character count and the
// frames below (json-constraint.ts), so a state at one count must never get another count's mask:
// length-bounded strings are stepped through every count, under different parents, forwards and
// back (the second pass hits the memo), and each mask and its costs must equal the fresh ones.
import { beforeAll, describe, expect, it } from "vitest";
import { compileSchema, ConstraintGrammar } from "../src/index.js";
import { JsonState } from "../src/json-machine.js";
import { TokenVocabulary } from "../src/vocabulary.js";
import { sotuTokenizer } from "./support/small-model.js";

let vocabulary: TokenVocabulary;

beforeAll(async () => {
  const tokenizer = await sotuTokenizer();
  vocabulary = new TokenVocabulary(tokenizer, tokenizer.vocabSize);
});

const encoder = new TextEncoder();

/** Every text token the machine accepts from `state`, with the completion cost after it. */
function fresh(state: JsonState): Map<number, number> {
  const out = new Map<number, number>();
  for (const id of vocabulary.sorted().ids) {
    const next = state.stepAll(vocabulary.bytes(id));
    if (next) out.set(id, next.cost);
  }
  return out;
}

function memoized(grammar: ConstraintGrammar, state: JsonState): Map<number, number> {
  const out = new Map<number, number>();
  for (const { ids, cost } of grammar.allowed(state).runs) {
    for (const id of ids) {
      expect(out.has(id), `token ${id} in two runs`).toBe(false);
      out.set(id, cost);
    }
  }
  return out;
}

/** The prefixes `head` + the first k characters of `chars`, for every k. */
function prefixes(head: string, chars: string[]): string[] {
  return chars.map((_, k) => head + chars.slice(0, k).join("")).concat(head + chars.join(""));
}

const CASES: { name: string; schema: object; texts: string[]; counted?: false }[] = [
  {
    name: "minLength and maxLength, under two parents",
    schema: {
      type: "object",
      properties: { a: { type: "string", minLength: 2, maxLength: 6 }, b: { type: "integer" } },
      required: ["a", "b"],
      additionalProperties: false,
    },
    // Multi-byte characters and escapes count one each; the last prefix is at maxLength.
    texts: [...prefixes('{"a":"', ["t", "h", "é", "\\n", "e", "s"]), ...prefixes('{"b":1,"a":"', ["t", "\\", '"', "x", "y", "z"])],
  },
  {
    name: "a pattern with maxLength, ending mid-escape and mid-character",
    schema: { type: "array", items: { type: "string", pattern: "^[a-zé/]+( [a-z]+)?$", maxLength: 5 } },
    texts: [...prefixes('["', ["t", "h", " ", "e", "y"]), '["th\\', '["th\xc3', '["ab","c', '["ab","cde'],
  },
  {
    name: "minLength alone (counts above it are one state)",
    schema: { type: "object", properties: { s: { type: "string", minLength: 4 } }, required: ["s"] },
    texts: prefixes('{"s":"', ["w", "o", "r", "d", "s", "s", "s"]),
  },
  {
    name: "a plain string under different parents",
    schema: { type: "array", items: { type: "string" }, maxItems: 3 },
    texts: ['["', '["the', '["x","', '["x","y","', '["\\'],
    counted: false,
  },
];

describe("memoized masks equal fresh ones", () => {
  for (const { name, schema, texts, counted } of CASES) {
    it(name, () => {
      const compiled = compileSchema(schema);
      const grammar = new ConstraintGrammar(compiled, vocabulary);
      const states = texts.map((text) => {
        // The prefixes hold raw bytes (a lone lead byte), so they go in as Latin-1 where marked.
        const bytes = text.includes("\xc3") ? Uint8Array.from(text, (c) => c.charCodeAt(0)) : encoder.encode(text);
        const state = JsonState.initial(compiled).stepAll(bytes);
        expect(state, text).not.toBeNull();
        return { text, state: state! };
      });
      let sizes = new Set<number>();
      for (const pass of [states, [...states].reverse()]) {
        sizes = new Set<number>();
        for (const { text, state } of pass) {
          const expected = fresh(state);
          const actual = memoized(grammar, state);
          expect(actual.size, text).toBe(expected.size);
          for (const [id, cost] of expected) expect(actual.get(id), `${text} + ${JSON.stringify(vocabulary.tokenizer.decode([id]))}`).toBe(cost);
          sizes.add(expected.size);
        }
      }
      // The counts must matter, or this test could not catch a memo keyed without them.
      if (counted !== false) expect(sizes.size).toBeGreaterThan(2);
    });
  }
});
