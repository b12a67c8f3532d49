// Fuzzing tokenizerFromSentencePiece: byte mutations of a small hand-written BPE model and of a
// model spm_train writes (whose precompiled NFKC charsmap is most of the file), plus models built
// field by field with lying lengths, piece types, ids and strings, random charsmaps, and many
// repeated fields. Every case must load and encode, or end in a typed error, within the child's
// time and memory bounds.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { applyByteMutation, byteMutations, fuzzParser, fuzzRuns, ParserChild } from "@gemma-ts/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sotuTexts } from "../support/fixtures.js";
import { lengthDelimited, type PieceSpec, pieceMessage, smallModelSpec, tag, varint, writeModel } from "../support/sentencepiece-writer.js";
import { summarizeFindings } from "./findings.js";

const run = promisify(execFile);

/** Mostly `usual`, sometimes `rare`: most cases should still load, so the encoder runs on them. */
function mostly<T>(usual: fc.Arbitrary<T>, rare: fc.Arbitrary<T>, odds = 6): fc.Arbitrary<T> {
  return fc.oneof({ weight: odds, arbitrary: usual }, { weight: 1, arbitrary: rare });
}

const pieceString = mostly(
  fc.string({ minLength: 1, maxLength: 6 }),
  fc.oneof(
    fc.constantFrom("", "▁", "▁▁", "<0x41>", "<0xZZ>", "<0x100>", "<unk>", "<s>", "a", "ab", "\u0000", "\ud800"),
    fc.integer({ min: 500, max: 2000 }).map((n) => "x".repeat(n)),
  ),
  30,
);

const piece: fc.Arbitrary<PieceSpec> = fc.record({
  piece: pieceString,
  score: fc.oneof(fc.float({ noDefaultInfinity: false }), fc.constantFrom(0, -1, Number.NaN, Number.POSITIVE_INFINITY)),
  type: mostly(fc.constantFrom(1, 1, 1, 4, 5), fc.integer({ min: 0, max: 7 }), 30),
});

/** A charsmap blob: a trie size that may lie, random units, replacements with or without NULs. */
const charsmap = fc
  .tuple(fc.uint8Array({ maxLength: 256 }), mostly(fc.constant(undefined), fc.constantFrom(0xffffffff, 0x7fffffff, 3, 5, 1 << 20)), fc.uint8Array({ maxLength: 64 }), mostly(fc.nat({ max: 40 }), fc.nat({ max: 3000 })))
  .map(([units, lyingSize, replacements, longRun]) => {
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, lyingSize ?? units.length & ~3, true);
    return Uint8Array.from([...head, ...units, ...replacements, ...new Array(longRun).fill(0x61), 0]);
  });

const trainerFields = fc.record(
  {
    3: mostly(fc.constant(2), fc.integer({ min: -1, max: 5 })),
    4: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    35: mostly(fc.constant(true), fc.constant(false)),
    24: fc.boolean(),
    40: fc.integer({ min: -1, max: 400 }),
    41: fc.integer({ min: -1, max: 400 }),
    44: mostly(fc.string({ maxLength: 4 }), fc.integer({ min: 4000, max: 6000 }).map((n) => "?".repeat(n)), 20),
    45: pieceString,
    46: pieceString,
    47: pieceString,
  },
  { requiredKeys: [] },
);

const normalizerFields = fc.record(
  { 1: fc.string({ maxLength: 8 }), 2: charsmap, 3: fc.boolean(), 4: fc.boolean(), 5: fc.boolean() },
  { requiredKeys: [] },
);

/** Models built field by field: random pieces on top of the valid ones, random specs. */
function builtModels(): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.array(piece, { maxLength: 40 }), mostly(fc.constant(true), fc.constant(false)), trainerFields, normalizerFields, fc.option(normalizerFields))
    .map(([extra, keepValid, trainer, normalizer, denormalizer]) => {
      const base = smallModelSpec();
      const bytes = writeModel({
        pieces: keepValid ? [...base.pieces, ...extra] : extra,
        trainer: { ...base.trainer, ...trainer },
        normalizer: { ...base.normalizer, ...normalizer },
      });
      if (!denormalizer) return bytes;
      const spec = Object.entries(denormalizer).flatMap(([field, value]) =>
        value instanceof Uint8Array ? lengthDelimited(Number(field), value) : typeof value === "string" ? lengthDelimited(Number(field), new TextEncoder().encode(value)) : [...tag(Number(field), 0), ...varint(Number(value))],
      );
      return Uint8Array.from([...bytes, ...lengthDelimited(5, spec)]);
    });
}

/** The valid model with a field whose length lies, or a field repeated many times. */
function lyingModels(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const hugeLength = fc.constantFrom(2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2n ** 64n - 1n, valid.length, valid.length + 1);
  return fc.oneof(
    // A top-level field (pieces, specs, unknown) that claims more bytes than there are.
    fc.tuple(fc.constantFrom(1, 2, 3, 5, 99), hugeLength, fc.uint8Array({ maxLength: 16 })).map(([field, length, tail]) =>
      Uint8Array.from([...valid, ...tag(field, 2), ...varint(length), ...tail]),
    ),
    // A piece whose string claims more bytes than the piece message holds.
    fc.tuple(hugeLength, fc.nat({ max: 8 })).map(([length, have]) => {
      const inner = [...tag(1, 2), ...varint(length), ...new Array(have).fill(0x61)];
      return Uint8Array.from([...lengthDelimited(1, inner), ...valid]);
    }),
    // Many repeated fields: pieces, control symbols, user-defined symbols, unknown fields.
    fc.tuple(fc.constantFrom("pieces", "control", "user", "unknown"), fc.integer({ min: 1000, max: 60_000 })).map(([what, count]) => {
      const one =
        what === "pieces"
          ? lengthDelimited(1, pieceMessage({ piece: "q", type: 1 }))
          : what === "unknown"
            ? [...tag(77, 0), 1]
            : lengthDelimited(2, lengthDelimited(what === "control" ? 30 : 31, [0x73]));
      const repeated = new Uint8Array(one.length * count);
      for (let i = 0; i < count; i++) repeated.set(one, i * one.length);
      return Uint8Array.from([...valid, ...repeated]);
    }),
    // Wire types that do not match the schema, groups, field number 0.
    fc.tuple(fc.constantFrom(1, 2, 3), fc.constantFrom(0, 1, 3, 4, 5, 6, 7)).map(([field, wire]) => Uint8Array.from([...tag(field, wire), 0x01, 0x02, ...valid])),
  );
}

describe("fuzz: SentencePiece .model", () => {
  let dir: string;
  let small: Uint8Array;
  let trained: Uint8Array;
  let child: ParserChild;

  beforeAll(async () => {
    small = writeModel(smallModelSpec());
    dir = mkdtempSync(join(tmpdir(), "gemma-ts-spm-fuzz-"));
    const sentences = sotuTexts()[0]!.split(/(?<=[.?!])\s+/);
    writeFileSync(join(dir, "train.txt"), `${sentences.join("\n")}\n`);
    // spm_train's default normalizer (nmt_nfkc): its charsmap is most of the file.
    await run("spm_train", ["--input=train.txt", "--model_prefix=nfkc", "--vocab_size=300", "--model_type=bpe", "--byte_fallback=true", "--character_coverage=0.98", "--minloglevel=2", "--num_threads=1"], { cwd: dir });
    trained = new Uint8Array(readFileSync(join(dir, "nfkc.model")));
    child = new ParserChild({
      module: new URL("./targets/tokenizer.ts", import.meta.url).href,
      exportName: "loadSentencePiece",
      timeoutMs: 5000,
      maxOldSpaceMb: 512,
      maxRssBytes: 1 << 30,
    });
  });

  afterAll(async () => {
    await child?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("byte mutations of a small model and of an spm_train model: a tokenizer or a typed error", async () => {
    const arbitrary = fc.oneof(byteMutations(small).map((m) => applyByteMutation(small, m)), byteMutations(trained).map((m) => applyByteMutation(trained, m)));
    const report = await fuzzParser({ parser: "SentencePiece .model (bytes)", child, arbitrary, runs: fuzzRuns(150), seed: 10 });
    expect(summarizeFindings(report.findings)).toEqual([]);
  }, 600_000);

  it("models built field by field, lying lengths, repeated fields: a tokenizer or a typed error", async () => {
    const arbitrary = fc.oneof({ weight: 3, arbitrary: builtModels() }, { weight: 1, arbitrary: lyingModels(small) });
    const report = await fuzzParser({ parser: "SentencePiece .model (structure)", child, arbitrary, runs: fuzzRuns(150), seed: 11 });
    expect(summarizeFindings(report.findings)).toEqual([]);
  }, 600_000);
});
