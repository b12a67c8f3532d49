// Hostile tokenizer files: every size a file declares is checked against TOKENIZER_LIMITS before
// it is used, components nest to a bounded depth, regex steps run in linear time, and no chain of
// steps can blow a short text up. The cases that used to hang or crash the process run in a child
// process (the fuzz harness's ParserChild), so a regression is a failed assertion rather than a
// stuck or killed test run.
import { deeplyNestedJson, ParserChild } from "@gemma-ts/fuzz";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  InvalidArgumentError,
  MalformedTokenizerFileError,
  TOKENIZER_LIMITS,
  type TokenizerError,
  TokenizerLimitError,
  tokenizerFromJson,
  tokenizerFromSentencePiece,
  UnsupportedComponentError,
} from "../src/index.js";
import { lengthDelimited, smallModelSpec, writeModel } from "./support/sentencepiece-writer.js";
import { tinyTokenizerJson } from "./support/tiny-tokenizer-json.js";

function caught(build: () => unknown): unknown {
  try {
    build();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectError<T extends TokenizerError>(build: () => unknown, type: new (...args: any[]) => T, message: RegExp): T {
  const error = caught(build);
  expect(error).toBeInstanceOf(type);
  expect((error as Error).message).toMatch(message);
  return error as T;
}

/** The tiny file with its normalizer (or decoder) nested `depth` Sequences deep. */
function nested(depth: number, kind: "normalizer" | "decoder"): Record<string, any> {
  const json = tinyTokenizerJson();
  let node: Record<string, any> = kind === "normalizer" ? { type: "Replace", pattern: { String: " " }, content: "▁" } : { type: "Fuse" };
  for (let i = 1; i < depth; i++) node = { type: "Sequence", [`${kind}s`]: [node] };
  json[kind] = node;
  return json;
}

const { tokenId, vocabSize, merges, tokenLength, addedTokensLength, componentDepth, componentStringLength, fileBytes } = TOKENIZER_LIMITS;

describe("limits on what a tokenizer.json declares", () => {
  it("refuses a vocabulary id of 2^53, which used to vanish from the vocabulary, naming field, value and limit", () => {
    const json = tinyTokenizerJson();
    json.model.vocab.z = 2 ** 53;
    const error = expectError(() => tokenizerFromJson(json), TokenizerLimitError, /model\.vocab\.z is 9007199254740992, above the limit of 4194303/);
    expect([error.code, error.field, error.value, error.limit]).toEqual(["LIMIT_EXCEEDED", "model.vocab.z", 2 ** 53, tokenId.max]);
  });

  it("refuses ids past the limit as too large, and negative or fractional ids as malformed", () => {
    for (const id of [tokenId.max + 1, 2 ** 32 - 1, 2 ** 32, 1e308]) {
      const json = tinyTokenizerJson();
      json.model.vocab.z = id;
      expectError(() => tokenizerFromJson(json), TokenizerLimitError, /model\.vocab\.z/);
    }
    for (const id of [-1, 1.5, "7", null]) {
      const json = tinyTokenizerJson();
      json.model.vocab.z = id;
      expectError(() => tokenizerFromJson(json), MalformedTokenizerFileError, /model\.vocab\.z.*non-negative integer/);
    }
    const atLimit = tinyTokenizerJson();
    atLimit.model.vocab.z = tokenId.max;
    expect(tokenizerFromJson(atLimit).vocabSize).toBe(vocabSize.max);
  });

  it("refuses an added-token id past int32, which the encoder used to return wrapped to a negative id", () => {
    const json = tinyTokenizerJson();
    json.added_tokens.push({ id: 2 ** 31, content: "<x>", special: true, normalized: false });
    expectError(() => tokenizerFromJson(json), TokenizerLimitError, /added_tokens\[1\]\.id is 2147483648/);
  });

  it("refuses post-processor ids past the limit and templates longer than the limit", () => {
    const template = (ids: number[]): Record<string, any> => ({
      ...tinyTokenizerJson(),
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        special_tokens: { "<bos>": { id: "<bos>", ids, tokens: [] } },
      },
    });
    expectError(() => tokenizerFromJson(template([2 ** 40])), TokenizerLimitError, /special_tokens\.<bos>\.ids\[0\] is 1099511627776/);
    expectError(() => tokenizerFromJson(template(new Array(5000).fill(0))), TokenizerLimitError, /ids is 5000, above the limit of 1024/);
    expect(Array.from(tokenizerFromJson(template([0])).encode("ab").ids)).toEqual([0, 4]);
  });

  it("refuses more merges than the encoder's ranks can hold, as a limit", () => {
    const json = tinyTokenizerJson();
    json.model.merges = new Array(merges.max + 1).fill("a b");
    expectError(() => tokenizerFromJson(json), TokenizerLimitError, /model\.merges is 2097153, above the limit of 2097152/);
  });

  it("refuses over-long tokens, and added tokens whose characters add up past the limit", () => {
    const long = tinyTokenizerJson();
    long.model.vocab["a".repeat(tokenLength.max + 1)] = 6;
    expectError(() => tokenizerFromJson(long), TokenizerLimitError, /token with id 6 in model\.vocab is 1025, above the limit of 1024/);
    const longAdded = tinyTokenizerJson();
    longAdded.added_tokens[0].content = "<".repeat(tokenLength.max + 1);
    expectError(() => tokenizerFromJson(longAdded), TokenizerLimitError, /added_tokens\[0\]\.content is 1025/);
    const many = tinyTokenizerJson();
    const count = Math.ceil(addedTokensLength.max / tokenLength.max) + 1;
    for (let i = 0; i < count; i++) many.added_tokens.push({ id: 10 + i, content: `${i}`.padEnd(tokenLength.max, "x") });
    expectError(() => tokenizerFromJson(many), TokenizerLimitError, /total length of added_tokens up to added_tokens\[\d+\] is \d+, above the limit of 1048576/);
  });

  it("refuses over-long component strings", () => {
    const json = tinyTokenizerJson();
    json.normalizer = { type: "Prepend", prepend: "▁".repeat(componentStringLength.max + 1) };
    expectError(() => tokenizerFromJson(json), TokenizerLimitError, /normalizer\.prepend is 4097/);
  });

  it("refuses a file over the size limit before decoding it, and input that is not a file", () => {
    expectError(() => tokenizerFromJson(new Uint8Array(fileBytes.max + 1)), TokenizerLimitError, /size of the tokenizer\.json file is 268435457/);
    expectError(() => tokenizerFromJson(42 as unknown as string), InvalidArgumentError, /source.*number/);
  });
});

describe("nesting of tokenizer.json components", () => {
  it("accepts normalizers and decoders nested to the limit and refuses one more level", () => {
    const deepest = componentDepth.max;
    expect(tokenizerFromJson(nested(deepest, "normalizer")).encode("a b").tokens).toEqual(["a", "▁", "b"]);
    expect(tokenizerFromJson(nested(deepest, "decoder")).decode([2, 5, 3])).toBe("a▁b");
    for (const kind of ["normalizer", "decoder"] as const) {
      expectError(() => tokenizerFromJson(nested(deepest + 1, kind)), TokenizerLimitError, new RegExp(`nesting depth of ${kind} is 65, above the limit of 64`));
    }
  });

  it("refuses Sequences nested thousands deep with a typed error, not a stack overflow", () => {
    for (const kind of ["normalizer", "decoder"] as const) {
      const text = JSON.stringify(tinyTokenizerJson()).replace(`"${kind}":`, `"${kind}":${`{"type":"Sequence","${kind}s":[`.repeat(20_000)}{"type":"Fuse"}${"]}".repeat(20_000)},"unused":`);
      expectError(() => tokenizerFromJson(text), TokenizerLimitError, new RegExp(`nesting depth of ${kind}`));
    }
  });

  it("refuses a parsed object whose components contain themselves", () => {
    const json = tinyTokenizerJson();
    const cycle: Record<string, any> = { type: "Sequence", normalizers: [] };
    cycle.normalizers.push(cycle);
    json.normalizer = cycle;
    expectError(() => tokenizerFromJson(json), TokenizerLimitError, /nesting depth of normalizer/);
  });

  it("reads JSON nested a million levels deep into a typed error", () => {
    expectError(() => tokenizerFromJson(deeplyNestedJson(1_000_000)), MalformedTokenizerFileError, /expected an object, got an array/);
    expectError(() => tokenizerFromJson(deeplyNestedJson(1_000_000, "model")), MalformedTokenizerFileError, /at model: missing field 'vocab'/);
  });
});

describe("regex steps", () => {
  it("refuses what a linear-time engine cannot run the way Oniguruma does, naming the construct", () => {
    const cases: [string, RegExp][] = [
      ["(?=a)b", /\(\?=a\)b.*lookaround/],
      ["(a)\\1", /backreferences/],
      ["a++", /possessive/],
      ["\\bthe\\b", /word boundary \\b/],
      ["[[:alpha:]]", /POSIX bracket/],
      ["(a", /missing closing \)/],
    ];
    for (const [pattern, message] of cases) {
      const json = tinyTokenizerJson();
      json.normalizer = { type: "Replace", pattern: { Regex: pattern }, content: "x" };
      const error = expectError(() => tokenizerFromJson(json), UnsupportedComponentError, message);
      expect(error.message).toMatch(/regular expression at normalizer/);
    }
  });

  it("refuses a pattern whose compiled program is past the limit: the engine's steps per character", () => {
    const json = tinyTokenizerJson();
    json.normalizer = { type: "Replace", pattern: { Regex: "(?:x*y*z*){300}" }, content: "x" };
    expectError(() => tokenizerFromJson(json), TokenizerLimitError, /compiled size of the regular expression at normalizer is \d+, above the limit of 1024/);
    json.normalizer.pattern.Regex = "\\p{L}{1000}";
    expect(() => tokenizerFromJson(json)).not.toThrow();
  });
});

describe("output growth of normalizers and decoders", () => {
  it("stops a chain of Replace steps that would multiply the text, naming the step", () => {
    const json = tinyTokenizerJson();
    // 12 doublings of 10 characters: 40,960, past the 10 * 64 + 1024 the budget allows.
    json.normalizer = { type: "Sequence", normalizers: new Array(12).fill({ type: "Replace", pattern: { String: "a" }, content: "aa" }) };
    const tokenizer = tokenizerFromJson(json);
    expectError(() => tokenizer.encode("a".repeat(10)), TokenizerLimitError, /output of normalizer\.normalizers\[\d+\] is \d+, above the limit of 1664/);
    // Growth within the budget is fine.
    json.normalizer.normalizers = json.normalizer.normalizers.slice(0, 3);
    expect(tokenizerFromJson(json).encode("ab").ids.length).toBe(8);
  });

  it("stops a decoder chain that would multiply the text", () => {
    const json = tinyTokenizerJson();
    // Tokens a, b, ab (4 characters) become 400, then 40,000: past 4 * 64 + 1024.
    json.decoder = { type: "Sequence", decoders: new Array(2).fill({ type: "Replace", pattern: { Regex: "a|b" }, content: "ab".repeat(50) }) };
    expectError(() => tokenizerFromJson(json).decode([2, 3, 4]), TokenizerLimitError, /output of decoder\.decoders\[\d+\]/);
  });

  it("takes Replace content literally, as Hugging Face does, not as a replacement pattern", () => {
    const json = tinyTokenizerJson();
    json.normalizer = { type: "Replace", pattern: { String: "b" }, content: "$&$'" };
    json.model.vocab.$ = 6;
    json.model.vocab["&"] = 7;
    json.model.vocab["'"] = 8;
    expect(tokenizerFromJson(json).encode("ab").tokens).toEqual(["a", "$", "&", "$", "'"]);
  });
});

describe("limits on what a SentencePiece .model declares", () => {
  it("refuses over-long pieces, unk_surface and user-defined symbols", () => {
    const longPiece = smallModelSpec();
    longPiece.pieces.push({ piece: "x".repeat(tokenLength.max + 1) });
    expectError(() => tokenizerFromSentencePiece(writeModel(longPiece)), TokenizerLimitError, /ModelProto\.pieces\[\d+\]\.piece is 1025/);
    const surface = smallModelSpec();
    surface.trainer![44] = "?".repeat(componentStringLength.max + 1);
    expectError(() => tokenizerFromSentencePiece(writeModel(surface)), TokenizerLimitError, /trainer_spec\.unk_surface is 4097/);
    const symbols = smallModelSpec();
    for (let i = 0; i <= addedTokensLength.max / tokenLength.max; i++) symbols.pieces.push({ piece: `<${i}>`.padEnd(tokenLength.max, "x"), type: 4 });
    expectError(() => tokenizerFromSentencePiece(writeModel(symbols)), TokenizerLimitError, /USER_DEFINED pieces is \d+, above the limit of 1048576/);
  });

  it("refuses a charsmap replacement longer than the limit", () => {
    const spec = smallModelSpec();
    // An empty trie (4 bytes of units) and one 2000-byte replacement.
    spec.normalizer![2] = Uint8Array.from([4, 0, 0, 0, 0, 0, 0, 0, ...new Array(2000).fill(0x61), 0]);
    expectError(() => tokenizerFromSentencePiece(writeModel(spec)), TokenizerLimitError, /longest replacement in normalizer_spec\.precompiled_charsmap is 2000, above the limit of 1024/);
  });

  it("refuses a file over the size limit before reading it, and input that is not bytes", () => {
    expectError(() => tokenizerFromSentencePiece(new Uint8Array(fileBytes.max + 1)), TokenizerLimitError, /size of the \.model file is 268435457/);
    expectError(() => tokenizerFromSentencePiece("model" as unknown as Uint8Array), InvalidArgumentError, /bytes/);
  });

  it("skips unknown fields however deeply their contents nest: messages are read by schema, not recursively", () => {
    let nestedField: number[] = [];
    for (let i = 0; i < 2000; i++) nestedField = lengthDelimited(99, nestedField);
    const bytes = Uint8Array.from([...nestedField, ...writeModel(smallModelSpec())]);
    expect(tokenizerFromSentencePiece(bytes).encode("the").tokens).toEqual(["t", "he"]);
  });
});

const RAW = "@@raw@@";

// Each of these hung or crashed the process before the limits: they run in a child process with
// a time and memory bound, and must end in a typed error (or, for the regex, in a result).
describe("inputs that used to hang or crash, in a child process", () => {
  let json: ParserChild;
  let bpe: ParserChild;
  const target = new URL("./fuzz/targets/tokenizer.ts", import.meta.url).href;

  beforeAll(() => {
    json = new ParserChild({ module: target, exportName: "loadTokenizerJson", timeoutMs: 10_000, maxOldSpaceMb: 512 });
    bpe = new ParserChild({ module: target, exportName: "buildSparseBpeModel", timeoutMs: 10_000, maxOldSpaceMb: 512 });
  });

  afterAll(async () => {
    await json?.close();
    await bpe?.close();
  });

  /** The tiny file with byte fallback, edited; a field set to RAW is replaced by the JSON text `raw`. */
  function withJson(edit: (json: Record<string, any>) => void, raw = ""): string {
    const file = tinyTokenizerJson();
    file.model.byte_fallback = true;
    for (let byte = 0; byte < 256; byte++) file.model.vocab[`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`] = 10 + byte;
    edit(file);
    return JSON.stringify(file).replace(`"${RAW}"`, () => raw);
  }

  it("a vocabulary id near 2^32 (a 4-billion-slot array) ends in a limit error", async () => {
    const outcome = await json.run(withJson((file) => (file.model.vocab.z = 2 ** 32 - 2)));
    expect(outcome).toMatchObject({ kind: "error", name: "TokenizerLimitError", code: "LIMIT_EXCEEDED" });
  });

  it("a sparse token array of length 2^32 - 1 given to the BPE model ends in a limit error", async () => {
    expect(await bpe.run(2 ** 32 - 1)).toMatchObject({ kind: "error", code: "LIMIT_EXCEEDED" });
  });

  it("a catastrophic Replace pattern, (a+)+$, on a run of a's followed by '!' finishes", async () => {
    const outcome = await json.run(withJson((file) => (file.normalizer = { type: "Replace", pattern: { Regex: "(a+)+$" }, content: "x" })));
    expect(outcome).toMatchObject({ kind: "ok" });
  });

  it("a chain of Replace steps doubling the text forty times ends in a limit error", async () => {
    const doubling = { type: "Replace", pattern: { String: "a" }, content: "aa" };
    const outcome = await json.run(withJson((file) => (file.normalizer = { type: "Sequence", normalizers: new Array(40).fill(doubling) })));
    expect(outcome).toMatchObject({ kind: "error", code: "LIMIT_EXCEEDED" });
  });

  it("a decoder chain multiplying each token by 4096 three times ends in a limit error", async () => {
    const step = { type: "Replace", pattern: { String: "a" }, content: "a".repeat(4096) };
    const outcome = await json.run(withJson((file) => (file.decoder = { type: "Sequence", decoders: [step, step, step] })));
    expect(outcome).toMatchObject({ kind: "error", code: "LIMIT_EXCEEDED" });
  });

  // Cases the fuzz tests (test/fuzz) found before the limits: each hung past the time bound, ran
  // out of heap, or threw a bare RangeError (stack overflow, invalid string length).
  const deepDecoders = `${'{"type":"Sequence","decoders":['.repeat(5000)}{"type":"Fuse"}${"]}".repeat(5000)}`;
  const corpus: [string, (file: Record<string, any>) => void, "ok" | "LIMIT_EXCEEDED", string?][] = [
    ["a digit spliced into an id: 'Gem' = 333333356 (byte mutations)", (file) => (file.model.vocab.Gem = 333_333_356), "LIMIT_EXCEEDED"],
    ["a vocabulary id of 2^31 - 1", (file) => (file.model.vocab.z = 2 ** 31 - 1), "LIMIT_EXCEEDED"],
    ["the Replace pattern (a|a)*b", (file) => (file.normalizer = { type: "Replace", pattern: { Regex: "(a|a)*b" }, content: "▁" }), "ok"],
    ["the Replace pattern (\\w+\\s?)+$", (file) => (file.normalizer = { type: "Replace", pattern: { Regex: "(\\w+\\s?)+$" }, content: "" }), "ok"],
    ["decoders nested 5000 deep", (file) => (file.decoder = RAW), "LIMIT_EXCEEDED", deepDecoders],
    [
      "a normalizer chain (regex a| to 2048 a's, twice) past the longest string",
      (file) => (file.normalizer = { type: "Sequence", normalizers: new Array(2).fill({ type: "Replace", pattern: { Regex: "a|" }, content: "a".repeat(2048) }) }),
      "LIMIT_EXCEEDED",
    ],
  ];

  it.each(corpus)("fuzz corpus: %s", async (_, edit, expected, raw) => {
    const outcome = await json.run(withJson(edit, raw));
    expect(outcome).toMatchObject(expected === "ok" ? { kind: "ok" } : { kind: "error", code: expected });
  });
});
