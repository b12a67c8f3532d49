// trainBpe on the State of the Union corpus (90% of the speeches, as sentence lines), checked
// three ways: Hugging Face's Rust tokenizers loads the written tokenizer.json and encodes and
// decodes held-out and tricky text id for id like gemma-ts; compression on the held-out lines is
// within 2% of Debian's spm_train with the same settings; bad options throw InvalidArgumentError.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer as RustTokenizer } from "tokenizers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GEMMA_SPECIAL_TOKENS,
  InvalidArgumentError,
  trainBpe,
  type Tokenizer,
  type TrainBpeOptions,
  type TrainBpeProgress,
  type TrainBpeResult,
} from "../src/index.js";
import { loadTokenizer } from "../src/node.js";
import { GEMMA_TOKENIZER_JSON, sotuTexts } from "./support/fixtures.js";
import { variedStrings } from "./support/varied-strings.js";

const VOCAB_SIZE = 8000;
const SPECIAL_TOKENS = [...GEMMA_SPECIAL_TOKENS, "<start_of_turn>", "<end_of_turn>"];
const NEWLINE_TOKENS = 31;

// spm_train reads lines, so both trainers get the speeches as sentence lines. Every tenth
// speech is held out.
const speeches = sotuTexts();
const toLines = (text: string): string[] => text.split(/(?<=[.!?])\s+|\n+/).filter((line) => line.length > 0);
const trainLines = speeches.filter((_, i) => i % 10 !== 9).flatMap(toLines);
const heldOutSpeeches = speeches.filter((_, i) => i % 10 === 9);
const heldOutLines = heldOutSpeeches.flatMap(toLines);

const TRICKY = [
  "In 1776, 13 colonies; 3.14159 and 1,000,000 dollars; 2024-01-01T12:00:00Z",
  "Emoji: 👍🏽 🇺🇸 👨‍👩‍👧‍👦 🫠 ❤️",
  "CJK needing byte fallback: 日本語のテキスト、中文、한국어, and 𠀋",
  "Runs   of    spaces,\ttabs\t\tand\n\nnewlines\n\n\n\n",
  `${"\n".repeat(45)}after 45 newlines`,
  "   leading and trailing spaces   ",
  "<start_of_turn>user\nWhat is the state of the union?<end_of_turn>\n<start_of_turn>model\n",
  "<bos><eos><pad><unk> written in text, and <not-special> or <bos",
  "literal ▁ marks ▁▁ and a▁b",
  "combining: e\u0301 n\u0303 Z\u0351\u0352; naïve café Straße",
  "\r\nWindows line\r\n",
  "x".repeat(3000),
  "",
];

const hasSentencePiece =
  existsSync("/usr/bin/spm_train") &&
  spawnSync("/usr/bin/python3", ["-c", "import sentencepiece"], { stdio: "ignore" }).status === 0;

let workDir: string;
let trained: TrainBpeResult;
let jsonPath: string;
let ours: Tokenizer;
let rust: RustTokenizer;
let trainSeconds: number;
let spmTraining: Promise<number> | undefined;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "gemma-ts-trainer-"));
  writeFileSync(join(workDir, "train.txt"), `${trainLines.join("\n")}\n`);
  // spm_train runs in another process while ours trains here.
  if (hasSentencePiece) spmTraining = runSpmTrain(workDir);
  const start = performance.now();
  trained = await trainBpe(trainLines, { vocabSize: VOCAB_SIZE, specialTokens: SPECIAL_TOKENS });
  trainSeconds = (performance.now() - start) / 1000;
  console.log(
    `trainBpe: ${VOCAB_SIZE} tokens from ${trainLines.length} lines (${(byteLength(trainLines) / 1e6).toFixed(1)} MB) in ${trainSeconds.toFixed(2)} s`,
    trained.stats,
  );
  jsonPath = join(workDir, "tokenizer.json");
  writeFileSync(jsonPath, trained.toJsonString());
  ours = await loadTokenizer(jsonPath);
  rust = RustTokenizer.fromFile(jsonPath);
});

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function byteLength(lines: readonly string[]): number {
  const encoder = new TextEncoder();
  let bytes = 0;
  for (const line of lines) bytes += encoder.encode(line).length;
  return bytes;
}

/**
 * spm_train with the same settings as trainBpe's defaults, so that both see the same text and
 * fill the same number of vocabulary slots: identity normalization, no dummy prefix, no
 * whitespace collapsing (spm's defaults, nmt_nfkc + dummy prefix + collapsing, would encode
 * different text), whitespace-only pieces, Gemma's ids for the 4 specials plus the 2 turn tokens,
 * and 31 newline-run symbols that, as in ours, take slots but never occur in the lines.
 * Resolves to the seconds it took.
 */
function runSpmTrain(dir: string): Promise<number> {
  const newlineRuns = Array.from({ length: NEWLINE_TOKENS }, (_, i) => "\n".repeat(i + 1)).join(",");
  const args = [
    `--input=${join(dir, "train.txt")}`,
    `--model_prefix=${join(dir, "spm")}`,
    `--vocab_size=${VOCAB_SIZE}`,
    "--model_type=bpe",
    "--byte_fallback=true",
    "--split_digits=true",
    "--normalization_rule_name=identity",
    "--add_dummy_prefix=false",
    "--remove_extra_whitespaces=false",
    "--allow_whitespace_only_pieces=true",
    "--max_sentence_length=1000000",
    "--pad_id=0",
    "--eos_id=1",
    "--bos_id=2",
    "--unk_id=3",
    "--control_symbols=<start_of_turn>,<end_of_turn>",
    `--user_defined_symbols=${newlineRuns}`,
  ];
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/bin/spm_train", args, { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr.on("data", (data: Buffer) => (log = (log + data.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve((performance.now() - start) / 1000);
      else reject(new Error(`spm_train exited with ${code}:\n${log}`));
    });
  });
}

/** Token counts of spm's encoding of each line, from Debian's python3-sentencepiece in one call. */
function spmTokenCount(model: string, lines: readonly string[]): number {
  const linesFile = join(workDir, "held-out.txt");
  writeFileSync(linesFile, lines.join("\n"));
  const script = [
    "import sys, sentencepiece",
    "sp = sentencepiece.SentencePieceProcessor(model_file=sys.argv[1])",
    "lines = open(sys.argv[2], encoding='utf-8', newline='\\n').read().split('\\n')",
    "print(sum(len(ids) for ids in sp.encode(lines)))",
  ].join("\n");
  const run = spawnSync("/usr/bin/python3", ["-c", script, model, linesFile], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`python3 sentencepiece failed: ${run.stderr}`);
  return Number.parseInt(run.stdout.trim(), 10);
}

function ourTokenCount(lines: readonly string[]): number {
  let tokens = 0;
  for (const line of lines) tokens += ours.encode(line, { addSpecialTokens: false }).ids.length;
  return tokens;
}

/** Compares ids from both libraries and reports the first few mismatches in full. */
async function expectSameIds(texts: string[], addSpecialTokens: boolean): Promise<number[][]> {
  const encodings = await rust.encodeBatch(texts, { addSpecialTokens });
  const expected = encodings.map((encoding) => encoding.getIds());
  const mismatches: { text: string; ours: string; rust: string }[] = [];
  texts.forEach((text, i) => {
    const got = Array.from(ours.encode(text, { addSpecialTokens }).ids).join(",");
    const want = expected[i]!.join(",");
    if (got !== want) mismatches.push({ text: text.slice(0, 200), ours: got.slice(0, 300), rust: want.slice(0, 300) });
  });
  expect(mismatches.slice(0, 3)).toEqual([]);
  expect(mismatches.length).toBe(0);
  return expected;
}

async function expectSameDecode(idLists: number[][], skipSpecialTokens: boolean): Promise<void> {
  const expected = await rust.decodeBatch(idLists, skipSpecialTokens);
  const mismatches = idLists.flatMap((ids, i) => {
    const got = ours.decode(ids, { skipSpecialTokens });
    return got === expected[i] ? [] : [{ ids: ids.slice(0, 40), ours: got.slice(0, 200), rust: expected[i]!.slice(0, 200) }];
  });
  expect(mismatches.slice(0, 3)).toEqual([]);
}

describe("trainBpe on the State of the Union corpus", () => {
  it("writes a tokenizer.json in the shape of Gemma's", () => {
    const gemma = JSON.parse(readFileSync(GEMMA_TOKENIZER_JSON, "utf8")) as Record<string, unknown> & {
      model: Record<string, unknown>;
      post_processor: { single: unknown };
    };
    const json = trained.json;
    expect(Object.keys(json)).toEqual(Object.keys(gemma));
    for (const key of ["version", "truncation", "padding", "normalizer", "pre_tokenizer", "decoder"] as const) {
      expect(json[key]).toEqual(gemma[key]);
    }
    expect(json.post_processor?.single).toEqual(gemma.post_processor.single);
    const { vocab: _v, merges: _m, ...flags } = json.model;
    const { vocab: _gv, merges: _gm, ...gemmaFlags } = gemma.model;
    expect(flags).toEqual(gemmaFlags);
    expect(Object.keys(json.added_tokens[0]!)).toEqual(Object.keys((gemma.added_tokens as object[])[0]!));
  });

  it("lays out the vocabulary as Gemma does and fills it", () => {
    expect(trained.stats.vocabSize).toBe(VOCAB_SIZE);
    expect(rust.getVocabSize(true)).toBe(VOCAB_SIZE);
    const tokens = Object.entries(trained.json.model.vocab).sort((a, b) => a[1] - b[1]).map(([token]) => token);
    expect(tokens.slice(0, 6)).toEqual(SPECIAL_TOKENS);
    expect(tokens.slice(6, 6 + NEWLINE_TOKENS)).toEqual(Array.from({ length: NEWLINE_TOKENS }, (_, i) => "\n".repeat(i + 1)));
    const firstByte = 6 + NEWLINE_TOKENS;
    expect(tokens[firstByte]).toBe("<0x00>");
    expect(tokens[firstByte + 255]).toBe("<0xFF>");
    // Learned pieces in learning order (as spm_train learns them on this corpus), then characters.
    expect(tokens.slice(firstByte + 256, firstByte + 256 + 5)).toEqual(["▁t", "▁th", "▁a", "▁the", "▁o"]);
    // Each piece's learned pair comes first, then its other splits into two pieces ("▁ th").
    expect(trained.json.model.merges.slice(0, 4)).toEqual(["▁ t", "▁t h", "▁ th", "▁ a"]);
    const characters = tokens.slice(-trained.stats.requiredCharacters);
    expect(characters.slice(0, 3)).toEqual(["▁", "e", "t"]);
    expect(characters.every((piece) => [...piece].length === 1)).toBe(true);
    // split_digits: every digit is a piece and no longer piece holds one.
    for (const digit of "0123456789") expect(tokens).toContain(digit);
    expect(tokens.filter((t) => t.length > 1 && /[0-9]/.test(t) && !/^<0x|^<|\n/.test(t))).toEqual([]);
    // Pieces never span a word boundary: '▁' only leads, or the piece is all '▁'.
    expect(tokens.filter((t) => /.\u2581/u.test(t) && !/^\u2581+$/u.test(t))).toEqual([]);
    expect(tokens.every((t) => [...t].length <= 16 || t.startsWith("\n"))).toBe(true);
    expect(trained.json.added_tokens.map((t) => t.special)).toEqual([
      ...SPECIAL_TOKENS.map(() => true),
      ...Array.from({ length: NEWLINE_TOKENS }, () => false),
    ]);
  });

  it("encodes held-out lines, whole speeches and tricky text id for id like Rust tokenizers", async () => {
    await expectSameIds(heldOutLines, false);
    await expectSameIds(heldOutLines.slice(0, 500), true);
    await expectSameIds(heldOutSpeeches, false);
    const tricky = [...TRICKY, ...variedStrings(1500, 11)];
    const ids = await expectSameIds(tricky, true);
    await expectSameIds(tricky, false);
    // Byte fallback leaves nothing unknown: <unk> only where the text spells it out.
    const unk = trained.json.model.vocab["<unk>"]!;
    expect(tricky.filter((text, i) => ids[i]!.includes(unk) !== text.includes("<unk>"))).toEqual([]);
    // U+FEFF is left to byte fallback by this vocabulary: its bytes must decode to U+FEFF, not
    // be dropped as a byte-order mark.
    expect(tricky.some((text) => text.includes("\ufeff"))).toBe(true);
    await expectSameDecode(ids, false);
    await expectSameDecode(ids, true);
    const lineIds = (await rust.encodeBatch(heldOutLines.slice(0, 1000), { addSpecialTokens: true })).map((e) => e.getIds());
    await expectSameDecode(lineIds, true);
  });

  it("decodes back to the original text", () => {
    for (const text of [...heldOutLines.slice(0, 2000), ...TRICKY.filter((t) => !t.includes("▁"))]) {
      expect(ours.decode(ours.encode(text, { addSpecialTokens: false }).ids)).toBe(text);
    }
  });

  it("compresses held-out text within 2% of spm_train's BPE", async () => {
    // The reference is required, not optional: a missing tool must fail, never pass by skipping.
    expect(hasSentencePiece, "spm_train and python3-sentencepiece are missing: run `bash scripts/setup.sh --test-tools`").toBe(true);
    const spmSeconds = await spmTraining!;
    const bytes = byteLength(heldOutLines);
    const ourTokens = ourTokenCount(heldOutLines);
    const spmTokens = spmTokenCount(join(workDir, "spm.model"), heldOutLines);
    const ourRate = bytes / ourTokens;
    const spmRate = bytes / spmTokens;
    const ratio = ourRate / spmRate;
    console.log(
      `held-out: ${heldOutLines.length} lines, ${bytes} bytes; bytes/token ours ${ourRate.toFixed(4)} (${ourTokens} tokens, trained in ${trainSeconds.toFixed(2)} s) vs spm_train ${spmRate.toFixed(4)} (${spmTokens} tokens, trained in ${spmSeconds.toFixed(2)} s); ratio ${ratio.toFixed(4)}`,
    );
    expect(Math.abs(ratio - 1)).toBeLessThanOrEqual(0.02);
  });
});

describe("trainBpe options and corpus kinds", () => {
  const small = trainLines.slice(0, 3000);
  const smallOptions: TrainBpeOptions = { vocabSize: 1000 };

  it("reads async iterables like plain ones, deterministically, and reports progress", async () => {
    async function* lines(): AsyncGenerator<string> {
      for (const line of small) yield line;
    }
    const progress: TrainBpeProgress[] = [];
    const fromAsync = await trainBpe(lines(), { ...smallOptions, onProgress: (p) => progress.push({ ...p }) });
    const fromArray = await trainBpe(small, smallOptions);
    expect(fromAsync.toJsonString()).toBe(fromArray.toJsonString());
    expect(progress.map((p) => p.phase)).toContain("counting");
    expect(progress.map((p) => p.phase)).toContain("merging");
    expect(progress.at(-1)).toMatchObject({ phase: "done", merges: fromArray.stats.merges, chunks: small.length });
    // One document with newlines trains as its lines do: newline runs are added tokens.
    const asDocument = await trainBpe([small.join("\n\n")], smallOptions);
    expect(asDocument.json.model.merges).toEqual(fromArray.json.model.merges);
  });

  it("bounds the word table with maxWords and still writes a loadable tokenizer", async () => {
    const result = await trainBpe(small, { ...smallOptions, maxWords: 1000 });
    expect(result.stats.droppedWords).toBeGreaterThan(0);
    const rustSmall = RustTokenizer.fromString(result.toJsonString());
    const text = heldOutLines.slice(0, 50);
    const want = (await rustSmall.encodeBatch(text, { addSpecialTokens: false })).map((e) => e.getIds().join(","));
    const mine = result.toTokenizer();
    expect(text.map((t) => Array.from(mine.encode(t, { addSpecialTokens: false }).ids).join(","))).toEqual(want);
  });

  it("honours splitDigits, byteFallback, newlineTokens and bosToken", async () => {
    const result = await trainBpe(small, { vocabSize: 700, splitDigits: false, byteFallback: false, newlineTokens: 0, bosToken: null });
    const tokens = Object.keys(result.json.model.vocab);
    expect(tokens.some((t) => /^[0-9]{2,}$/.test(t))).toBe(true);
    expect(tokens.some((t) => t.startsWith("<0x"))).toBe(false);
    expect(result.json.post_processor).toBeNull();
    expect(result.json.model.byte_fallback).toBe(false);
    expect(result.json.added_tokens.map((t) => t.content)).toEqual(GEMMA_SPECIAL_TOKENS);
    const tokenizer = result.toTokenizer();
    const rustSmall = RustTokenizer.fromString(result.toJsonString());
    const text = "1999 年 \n\n emoji 👍";
    const want = await rustSmall.encode(text, null, { addSpecialTokens: true });
    expect(Array.from(tokenizer.encode(text).ids)).toEqual(want.getIds());
  });

  it("rejects bad options with InvalidArgumentError", async () => {
    const bad: [Iterable<string> | AsyncIterable<string>, TrainBpeOptions][] = [
      [small, { vocabSize: 8000.5 }],
      [small, { vocabSize: 0 }],
      [small, { vocabSize: Number.NaN }],
      [small, { vocabSize: "8000" as unknown as number }],
      [small, {} as TrainBpeOptions],
      // 4 specials + 31 newline runs + 256 bytes = 291, plus the corpus's characters.
      [small, { vocabSize: 300 }],
      [small, { vocabSize: 8000, characterCoverage: 0 }],
      [small, { vocabSize: 8000, characterCoverage: 1.5 }],
      [small, { vocabSize: 8000, maxPieceLength: 0 }],
      [small, { vocabSize: 8000, minFrequency: 0 }],
      [small, { vocabSize: 8000, newlineTokens: -1 }],
      [small, { vocabSize: 8000, specialTokens: ["<pad>", "<eos>", "<bos>"] }],
      [small, { vocabSize: 8000, specialTokens: ["<unk>", "<unk>"] }],
      [small, { vocabSize: 8000, specialTokens: ["<unk>"], bosToken: "<bos>" }],
      [small, { vocabSize: 8000, splitDigits: "yes" as unknown as boolean }],
      [[], { vocabSize: 8000 }],
      [[""], { vocabSize: 8000 }],
      [["<bos>\n\n<eos>"], { vocabSize: 8000 }],
      ["a plain string" as unknown as Iterable<string>, { vocabSize: 8000 }],
      [null as unknown as Iterable<string>, { vocabSize: 8000 }],
      [[42 as unknown as string], { vocabSize: 8000 }],
    ];
    for (const [corpus, options] of bad) {
      await expect(trainBpe(corpus, options), JSON.stringify(options)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(trainBpe(small, { vocabSize: 300 })).rejects.toThrow(/characterCoverage/);
  });
});
