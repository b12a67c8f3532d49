// Bad input gets a typed error that names the problem, never a crash deep inside: truncated
// and malformed tokenizer.json files, models gemma-ts does not implement, wrong arguments.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  InvalidArgumentError,
  MalformedTokenizerFileError,
  type TokenizerError,
  tokenizerFromJson,
  UnsupportedComponentError,
} from "../src/index.js";
import { GEMMA_TOKENIZER_JSON } from "./support/fixtures.js";
import { tinyTokenizerJson } from "./support/tiny-tokenizer-json.js";

const gemmaText = readFileSync(GEMMA_TOKENIZER_JSON, "utf8");

function expectError<T extends TokenizerError>(build: () => unknown, type: new (...args: any[]) => T, message: RegExp): void {
  let caught: unknown;
  try {
    build();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(type);
  expect((caught as Error).message).toMatch(message);
}

describe("tokenizer.json errors", () => {
  it("a valid tiny file loads and encodes", () => {
    const tokenizer = tokenizerFromJson(tinyTokenizerJson());
    expect(Array.from(tokenizer.encode("ab a").ids)).toEqual([4, 5, 2]);
  });

  it("rejects a truncated file", () => {
    for (const length of [0, 1, 1000, Math.floor(gemmaText.length / 2), gemmaText.length - 2]) {
      expectError(() => tokenizerFromJson(gemmaText.slice(0, length)), MalformedTokenizerFileError, /not valid JSON.*truncated/);
    }
  });

  it("rejects a missing model, vocab or merges", () => {
    const noModel = tinyTokenizerJson();
    delete noModel.model;
    expectError(() => tokenizerFromJson(noModel), MalformedTokenizerFileError, /missing field 'model'/);
    const noMerges = tinyTokenizerJson();
    delete noMerges.model.merges;
    expectError(() => tokenizerFromJson(noMerges), MalformedTokenizerFileError, /model.*missing field 'merges'/);
  });

  it("names the merge whose token is not in the vocabulary", () => {
    const json = tinyTokenizerJson();
    json.model.merges = ["a b", "b c"];
    expectError(() => tokenizerFromJson(json), MalformedTokenizerFileError, /model\.merges\[1\].*'c'/);
  });

  it("rejects malformed merges and vocab entries", () => {
    const badMerge = tinyTokenizerJson();
    badMerge.model.merges = ["a b c"];
    expectError(() => tokenizerFromJson(badMerge), MalformedTokenizerFileError, /model\.merges\[0\]/);
    const badId = tinyTokenizerJson();
    badId.model.vocab.a = "two";
    expectError(() => tokenizerFromJson(badId), MalformedTokenizerFileError, /model\.vocab\.a.*integer/);
    const duplicateId = tinyTokenizerJson();
    duplicateId.model.vocab.b = 2;
    expectError(() => tokenizerFromJson(duplicateId), MalformedTokenizerFileError, /id 2 is also given/);
    const badToken = tinyTokenizerJson();
    badToken.added_tokens[0].content = 7;
    expectError(() => tokenizerFromJson(badToken), MalformedTokenizerFileError, /added_tokens\[0\]\.content/);
  });

  it("rejects models and components it does not implement, by name", () => {
    for (const type of ["Unigram", "WordPiece", "WordLevel"]) {
      const json = tinyTokenizerJson();
      json.model.type = type;
      expectError(() => tokenizerFromJson(json), UnsupportedComponentError, new RegExp(`model.*${type}`));
    }
    const preTokenized = tinyTokenizerJson();
    preTokenized.pre_tokenizer = { type: "ByteLevel" };
    expectError(() => tokenizerFromJson(preTokenized), UnsupportedComponentError, /pre_tokenizer.*ByteLevel/);
    const normalizer = tinyTokenizerJson();
    normalizer.normalizer = { type: "Precompiled", precompiled_charsmap: "" };
    expectError(() => tokenizerFromJson(normalizer), UnsupportedComponentError, /normalizer.*Precompiled/);
    const suffix = tinyTokenizerJson();
    suffix.model.continuing_subword_prefix = "##";
    expectError(() => tokenizerFromJson(suffix), UnsupportedComponentError, /continuing_subword_prefix/);
  });

  it("rejects wrong arguments", () => {
    const tokenizer = tokenizerFromJson(tinyTokenizerJson());
    expectError(() => tokenizer.encode(42 as unknown as string), InvalidArgumentError, /text.*number/);
    expectError(() => tokenizer.decode([2, 1.5]), InvalidArgumentError, /ids\[1\]/);
  });

  it("errors carry a stable code", () => {
    try {
      tokenizerFromJson("{");
    } catch (error) {
      expect((error as TokenizerError).code).toBe("MALFORMED_FILE");
    }
    expect.assertions(1);
  });
});
