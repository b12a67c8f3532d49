// SentencePiece .model files, checked against the reference: models are trained here with
// Debian's spm_train on State of the Union speeches, then held-out sentences, varied and random
// strings are encoded by gemma-ts and by Debian's python3-sentencepiece (one batch subprocess):
// ids and decoded text must be identical. Also: truncated and garbage files, unigram models.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MalformedTokenizerFileError,
  type Tokenizer,
  tokenizerFromSentencePiece,
  UnsupportedComponentError,
} from "../src/index.js";
import { loadTokenizer } from "../src/node.js";
import { GEMMA_TOKENIZER_JSON, sotuTexts } from "./support/fixtures.js";
import { seededRandom, variedStrings } from "./support/varied-strings.js";

const run = promisify(execFile);
// Debian's python3 has the sentencepiece module; the pyenv python3 first on PATH does not.
const PYTHON = "/usr/bin/python3";
const SETUP_HINT = "install Debian's sentencepiece and python3-sentencepiece (scripts/setup.sh --test-tools)";

const USER_DEFINED = ["<start_of_turn>", "<tag>", "[SEP]", "<<", "ab▁c", "Mr."];

/** The spm_train flags of each model compared, beyond the shared ones. */
const MODELS: Record<string, string[]> = {
  // spm_train's defaults (nmt_nfkc normalization, dummy prefix, whitespace cleanup).
  nfkc: ["--byte_fallback=true", "--split_digits=true"],
  // Gemma's settings: no normalization, no dummy prefix, spaces kept, user-defined symbols.
  identity: [
    "--normalization_rule_name=identity",
    "--add_dummy_prefix=false",
    "--remove_extra_whitespaces=false",
    "--allow_whitespace_only_pieces=true",
    "--byte_fallback=true",
    "--split_digits=true",
    `--user_defined_symbols=${USER_DEFINED.join(",")}`,
  ],
  // No byte fallback and a smaller alphabet: unknown characters become <unk>, runs fused.
  unk: ["--character_coverage=0.98", "--remove_extra_whitespaces=false"],
  // '▁' at the end of pieces, case folding, and a denormalizer applied when decoding.
  suffix: ["--treat_whitespace_as_suffix=true", "--normalization_rule_name=nfkc_cf", "--denormalization_rule_tsv=DENORM"],
};
/** A copy of `unk` in which python's set_vocabulary marks every third piece UNUSED. */
const UNUSED_MODEL = "unused";

interface Reference {
  ids: number[][];
  decoded: string[];
  withBosEos: number[][];
  idSequences: number[][];
  idSequencesDecoded: string[];
}

// Encodes every text with every model, decodes the ids and random id sequences, and writes a
// copy of the `unk` model with UNUSED pieces first.
const REFERENCE_SCRIPT = String.raw`
import json, random, sys
import sentencepiece as spm

job = json.load(open(sys.argv[1], encoding="utf-8"))
texts = [json.loads(line) for line in open(job["texts"], encoding="utf-8")]
result = {}
for name, path in job["models"].items():
    sp = spm.SentencePieceProcessor(model_file=path)
    if name == job["unusedFrom"]:
        unused = spm.SentencePieceProcessor(model_file=path)
        size = unused.get_piece_size()
        unused.set_vocabulary([unused.id_to_piece(i) for i in range(size) if i % 3 != 0])
        open(job["unusedPath"], "wb").write(unused.serialized_model_proto())
        models = [(name, sp), (job["unusedName"], unused)]
    else:
        models = [(name, sp)]
    for model_name, model in models:
        ids = [model.encode(text) for text in texts]
        size = model.get_piece_size()
        # Half the ids from the pieces decoding treats specially: control, unknown, byte, '▁...'.
        special = [i for i in range(size) if i < 300 or model.id_to_piece(i).startswith("\u2581")]
        rng = random.Random(model_name)
        sequences = [[rng.choice(special) if rng.random() < 0.5 else rng.randrange(size) for _ in range(rng.randint(1, 8))] for _ in range(1000)]
        result[model_name] = {
            "ids": ids,
            "decoded": [model.decode(x) for x in ids],
            "withBosEos": [model.encode(text, add_bos=True, add_eos=True) for text in texts[:200]],
            "idSequences": sequences,
            "idSequencesDecoded": [model.decode(s) for s in sequences],
        }
json.dump(result, open(job["output"], "w", encoding="utf-8"))
`;

/** Strings aimed at the normalizer and the model's corners, on top of the varied strings. */
const TRICKY = [
  "",
  " ",
  "     ",
  "\t",
  "  leading and trailing  ",
  "runs    of     spaces",
  "tabs\tand\t\ttabs",
  "line\nbreaks\r\nand\u2028separators",
  "0123456789 3.14159 1,000,000 2024-01-01",
  "日本語のテキストと中文测试と한국어",
  "😀 emoji 👍🏽 family 👨‍👩‍👧‍👦 flags 🇺🇸",
  "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ｶﾀｶﾅ",
  "ﬁ ﬀ ligatures ㍻ ① ½ ² ™ … Ω Å K",
  "e\u0301 a\u0308\u0301 n\u0303 \u0301leading combining",
  "ctrl\u0001\u0002\u0007\u001b\u007f end",
  "nul\u0000inside",
  "ideographic\u3000space and non\u00a0breaking and zero\u200bwidth",
  "\ufeffbyte order mark",
  "soft\u00adhyphen",
  "▁ literal ▁▁ marks ▁",
  "x▁",
  "<s> </s> <unk> <0x41> <pad>",
  "Mr. Speaker, Mr.President, <tag>[SEP]<<ab▁c ab c <start_of_turn>user",
  "<ta [SE <",
  "\u{1d400}\u{1d401} mathematical \u{1d7ce}",
  "\ue000 private use \u{f0000} \u{10ffff}",
  "\ufffd replacement",
  "ǅ ǈ ǋ ß ẞ İ ı",
  "한글 조합 \u1100\u1161\u11a8",
  "x".repeat(300),
  Array(80).fill("abc").join(" "),
];

/** Random strings from code point ranges where normalization rules live. */
function randomUnicodeStrings(count: number, words: readonly string[]): string[] {
  const random = seededRandom(77);
  const ranges: [number, number][] = [
    [0x20, 0x7e], [0x00, 0x1f], [0x80, 0x24f], [0x300, 0x36f], [0x370, 0x4ff], [0x590, 0x6ff], [0x900, 0x97f],
    [0xe00, 0xe7f], [0x1100, 0x11ff], [0x2000, 0x206f], [0x2100, 0x218f], [0x2460, 0x24ff], [0x2e80, 0x2fdf],
    [0x3000, 0x30ff], [0x3130, 0x33ff], [0x4e00, 0x4fff], [0xac00, 0xad00], [0xf900, 0xfaff], [0xfb00, 0xfb4f],
    [0xfe00, 0xfe6f], [0xff00, 0xffef], [0xfff0, 0xfffd], [0x1d400, 0x1d7ff], [0x1f300, 0x1f6ff], [0xe0000, 0xe007f],
  ];
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const strings: string[] = [];
  for (let i = 0; i < count; i++) {
    let text = "";
    const parts = 1 + Math.floor(random() * 10);
    for (let p = 0; p < parts; p++) {
      const r = random();
      if (r < 0.4) text += `${pick(words)} `;
      else if (r < 0.85) {
        for (let c = 1 + Math.floor(random() * 4); c > 0; c--) {
          const [low, high] = pick(ranges);
          text += String.fromCodePoint(low + Math.floor(random() * (high - low + 1)));
        }
      } else text += pick([" ", "  ", "\t", "\u3000", "\u00a0", "▁", "\n", ...USER_DEFINED]);
    }
    strings.push(text);
  }
  return strings;
}

let dir: string;
let texts: string[];
let heldOutCount: number;
const reference: Record<string, Reference> = {};
const tokenizers: Record<string, Tokenizer> = {};

beforeAll(async () => {
  try {
    await run(PYTHON, ["-c", "import sentencepiece"]);
    await run("spm_train", ["--help"]).catch((error: { stdout?: string }) => {
      // spm_train --help exits non-zero; it exists if it printed its usage.
      if (!error.stdout?.includes("--input")) throw error;
    });
  } catch (error) {
    throw new Error(`the SentencePiece reference is missing (${(error as Error).message}); ${SETUP_HINT}`);
  }
  dir = mkdtempSync(join(tmpdir(), "gemma-ts-spm-"));
  const speeches = sotuTexts();
  const sentences = (speech: string): string[] => speech.split(/(?<=[.?!])\s+/).filter((s) => s.length > 0);
  // Every fourth speech trains; sentences of the others are held out.
  writeFileSync(join(dir, "train.txt"), `${speeches.filter((_, i) => i % 4 === 0).flatMap(sentences).join("\n")}\n`);
  writeFileSync(join(dir, "denorm.tsv"), "61\t41\n74 68\t54 48\n"); // 'a' -> 'A', 'th' -> 'TH'
  const heldOut = speeches.filter((_, i) => i % 4 === 2).flatMap(sentences).filter((_, i) => i % 5 === 0).slice(0, 3000);
  heldOutCount = heldOut.length;
  texts = [...heldOut, ...TRICKY, ...variedStrings(1500, 5), ...randomUnicodeStrings(1000, heldOut.slice(0, 500).join(" ").split(" "))];

  // spm_train for all models (and a unigram one for the error test) at once.
  await Promise.all([
    ...Object.entries(MODELS).map(([name, flags]) =>
      trainModel(name, ["--input=train.txt", "--vocab_size=2000", "--model_type=bpe", ...flags.map((f) => f.replace("DENORM", join(dir, "denorm.tsv")))]),
    ),
    trainModel("unigram", ["--input=train.txt", "--input_sentence_size=3000", "--vocab_size=300", "--model_type=unigram"]),
  ]);

  writeFileSync(join(dir, "texts.jsonl"), `${texts.map((text) => JSON.stringify(text)).join("\n")}\n`);
  writeFileSync(join(dir, "reference.py"), REFERENCE_SCRIPT);
  writeFileSync(
    join(dir, "job.json"),
    JSON.stringify({
      texts: join(dir, "texts.jsonl"),
      models: Object.fromEntries(Object.keys(MODELS).map((name) => [name, modelPath(name)])),
      unusedFrom: "unk",
      unusedName: UNUSED_MODEL,
      unusedPath: modelPath(UNUSED_MODEL),
      output: join(dir, "reference.json"),
    }),
  );
  await run(PYTHON, [join(dir, "reference.py"), join(dir, "job.json")]);
  Object.assign(reference, JSON.parse(readFileSync(join(dir, "reference.json"), "utf8")));
  for (const name of [...Object.keys(MODELS), UNUSED_MODEL]) {
    tokenizers[name] = tokenizerFromSentencePiece(readFileSync(modelPath(name)));
  }
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function modelPath(name: string): string {
  return join(dir, `${name}.model`);
}

async function trainModel(name: string, flags: string[]): Promise<void> {
  await run("spm_train", [...flags, `--model_prefix=${name}`, "--minloglevel=2", "--num_threads=1"], { cwd: dir });
}

/** The first few differences in full, then the count. */
function expectAllEqual<T>(what: string, got: readonly T[], want: readonly T[], input: (i: number) => unknown): void {
  expect(got.length).toBe(want.length);
  const mismatches: unknown[] = [];
  for (let i = 0; i < want.length; i++) {
    if (JSON.stringify(got[i]) !== JSON.stringify(want[i])) mismatches.push({ input: input(i), ours: got[i], sentencepiece: want[i] });
  }
  expect(mismatches.slice(0, 3), what).toEqual([]);
  expect(mismatches.length, what).toBe(0);
}

describe.each([...Object.keys(MODELS), UNUSED_MODEL])("SentencePiece model '%s' against python3-sentencepiece", (name) => {
  it("encodes every string to the same ids", () => {
    const tokenizer = tokenizers[name]!;
    const ids = texts.map((text) => Array.from(tokenizer.encode(text).ids));
    expectAllEqual("ids", ids, reference[name]!.ids, (i) => texts[i]);
    expect(heldOutCount).toBe(3000);
  });

  it("decodes the ids to the same text", () => {
    const tokenizer = tokenizers[name]!;
    const { ids, decoded } = reference[name]!;
    expectAllEqual("decoded", ids.map((list) => tokenizer.decode(list)), decoded, (i) => ids[i]);
  });

  it("decodes random id sequences (control, unknown, byte and '▁' pieces) to the same text", () => {
    const tokenizer = tokenizers[name]!;
    const { idSequences, idSequencesDecoded } = reference[name]!;
    const got = idSequences.map((list) => tokenizer.decode(list));
    expectAllEqual("decoded", got, idSequencesDecoded, (i) => idSequences[i]!.map((id) => tokenizer.idToToken(id)));
  });
});

describe("SentencePiece loading", () => {
  it("adds <s> and </s> when asked, as encode(add_bos=True, add_eos=True) does", () => {
    const tokenizer = tokenizerFromSentencePiece(readFileSync(modelPath("nfkc")), { addBos: true, addEos: true });
    const got = texts.slice(0, 200).map((text) => Array.from(tokenizer.encode(text).ids));
    expectAllEqual("ids", got, reference.nfkc!.withBosEos, (i) => texts[i]);
    expect(Array.from(tokenizer.encode(texts[0]!, { addSpecialTokens: false }).ids)).toEqual(reference.nfkc!.ids[0]);
  });

  it("knows the special pieces", () => {
    const { special } = tokenizers.nfkc!;
    expect([special.unk, special.bos, special.eos, special.pad]).toEqual([0, 1, 2, undefined]);
    expect(tokenizers.identity!.tokenToId("<tag>")).toBeGreaterThan(2);
  });

  it("loadTokenizer reads a path ending in .model as a SentencePiece model", async () => {
    const tokenizer = await loadTokenizer(modelPath("nfkc"));
    const text = texts[0]!;
    expect(Array.from(tokenizer.encode(text).ids)).toEqual(reference.nfkc!.ids[0]);
  });
});

describe("SentencePiece errors", () => {
  function caught(build: () => unknown): unknown {
    try {
      build();
    } catch (error) {
      return error;
    }
    return undefined;
  }

  it("rejects a truncated .model file, naming the byte offset", () => {
    const bytes = readFileSync(modelPath("nfkc"));
    for (const length of [1, 2, 100, 5000, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const error = caught(() => tokenizerFromSentencePiece(bytes.subarray(0, length)));
      expect(error, `truncated to ${length} bytes`).toBeInstanceOf(MalformedTokenizerFileError);
      expect((error as MalformedTokenizerFileError).location).toMatch(/^byte \d+$/);
      expect((error as Error).message).toMatch(/truncated/);
    }
    expect(caught(() => tokenizerFromSentencePiece(new Uint8Array(0)))).toBeInstanceOf(MalformedTokenizerFileError);
  });

  it("rejects garbage bytes", () => {
    const random = seededRandom(3);
    const garbage = [
      new TextEncoder().encode("this is not a SentencePiece model"),
      Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), // a PNG header
      readFileSync(GEMMA_TOKENIZER_JSON).subarray(0, 4096),
      ...Array.from({ length: 20 }, () => Uint8Array.from({ length: 64 + Math.floor(random() * 512) }, () => Math.floor(random() * 256))),
    ];
    for (const bytes of garbage) {
      const error = caught(() => tokenizerFromSentencePiece(bytes));
      expect(error).toBeInstanceOf(MalformedTokenizerFileError);
    }
  });

  it("refuses a unigram model, naming it", () => {
    const error = caught(() => tokenizerFromSentencePiece(readFileSync(modelPath("unigram"))));
    expect(error).toBeInstanceOf(UnsupportedComponentError);
    expect((error as Error).message).toMatch(/UNIGRAM/);
  });
});
