// trainBpe: learns a SentencePiece-style BPE vocabulary from a stream of text, the way spm_train
// --model_type=bpe does with Gemma's settings (trainer_interface.cc, bpe_model_trainer.cc), and
// returns it as a tokenizer.json that Hugging Face's tokenizers and tokenizerFromJson load alike.
// Steps: count words and characters -> pick characters by coverage -> learn merges -> write.
import { InvalidArgumentError } from "../errors.js";
import { tokenizerFromJson } from "../formats/tokenizer-json.js";
import type { Tokenizer } from "../tokenizer.js";
import { learnMerges } from "./merge-learner.js";
import { resolveOptions, type ResolvedTrainBpeOptions, type TrainBpeOptions } from "./options.js";
import { stringifyTokenizerJson, writeTokenizerJson, type TokenizerJson } from "./tokenizer-json-writer.js";
import { WordCounter } from "./word-counts.js";

const PROGRESS_CHUNKS = 10_000;
const PROGRESS_MERGES = 100;

export interface TrainBpeStats {
  /** Chunks read from the corpus. */
  chunks: number;
  /** Distinct words counted, and how many of them pruning dropped (see maxWords). */
  words: number;
  droppedWords: number;
  /** Distinct characters seen, and how many became pieces (the rest fall back to bytes). */
  characters: number;
  requiredCharacters: number;
  /** Share of the corpus's characters that the vocabulary holds. */
  characterCoverage: number;
  /** Merged pieces learned (fewer than room was left for when the corpus runs out of pairs). */
  merges: number;
  vocabSize: number;
}

export interface TrainBpeResult {
  /** The tokenizer.json as an object. */
  json: TokenizerJson;
  /** The tokenizer.json text, indented like Hugging Face's, vocabulary in id order. */
  toJsonString(): string;
  /** A Tokenizer on the trained vocabulary (tokenizerFromJson on `json`). */
  toTokenizer(): Tokenizer;
  stats: TrainBpeStats;
}

/**
 * Trains a vocabulary of `options.vocabSize` tokens on `corpus`, a stream of text chunks
 * (documents or lines). The corpus is read once; memory grows with the distinct words, not the
 * text (and `maxWords` bounds those).
 *
 * Newlines: by default "\n", "\n\n", ... (31 of them, as Gemma) are added tokens, so the text is
 * trained line by line, as spm_train reads it. Characters outside the coverage are left to the
 * byte pieces, so any text is encodable without <unk> (with byteFallback: false they are <unk>).
 */
export async function trainBpe(
  corpus: Iterable<string> | AsyncIterable<string>,
  options: TrainBpeOptions,
): Promise<TrainBpeResult> {
  const resolved = resolveOptions(options);
  const newlineTokens = Array.from({ length: resolved.newlineTokens }, (_, i) => "\n".repeat(i + 1));
  // Vocabulary strings that exist before training: never learned, never single-character pieces.
  const reserved = new Set([...resolved.specialTokens, ...newlineTokens]);
  if (resolved.byteFallback) {
    for (let byte = 0; byte < 256; byte++) reserved.add(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`);
  }
  if (reserved.size > resolved.vocabSize) {
    // Checked before the corpus is read, which may take long.
    throw new InvalidArgumentError("vocabSize", `${resolved.vocabSize} is smaller than the ${reserved.size} special, newline and byte tokens`);
  }
  const counter = new WordCounter({
    addedTokens: [...resolved.specialTokens, ...newlineTokens],
    allowWhitespaceOnlyPieces: resolved.allowWhitespaceOnlyPieces,
    maxWords: resolved.maxWords,
  });
  await readCorpus(corpus, counter, resolved);

  const coverage = chooseCharacters(counter.characterCounts(), resolved.characterCoverage);
  const characters = coverage.characters.filter((codePoint) => !reserved.has(String.fromCodePoint(codePoint)));
  const fixed = reserved.size + characters.length;
  if (fixed > resolved.vocabSize) {
    throw new InvalidArgumentError(
      "vocabSize",
      `${resolved.vocabSize} is smaller than the ${reserved.size} special, newline and byte tokens plus the ${characters.length} characters that characterCoverage ${resolved.characterCoverage} requires (${fixed}); raise vocabSize or lower characterCoverage`,
    );
  }

  const targetMerges = resolved.vocabSize - fixed;
  const report = (phase: "merging" | "done", merges: number): void =>
    resolved.onProgress?.({ phase, chunks: counter.chunks, words: counter.words.size, merges, targetMerges });
  const learned = learnMerges(counter.words, {
    ...resolved,
    characters,
    targetMerges,
    reserved,
    onMerge: (merges) => {
      if (merges % PROGRESS_MERGES === 0) report("merging", merges);
    },
  });
  report("done", learned.length);

  const json = writeTokenizerJson({
    specialTokens: resolved.specialTokens,
    plainAddedTokens: newlineTokens,
    byteFallback: resolved.byteFallback,
    unkToken: resolved.unkToken,
    bosToken: resolved.bosToken,
    learned,
    characters: characters.map((codePoint) => String.fromCodePoint(codePoint)),
  });
  return {
    json,
    toJsonString: () => stringifyTokenizerJson(json),
    toTokenizer: () => tokenizerFromJson(json),
    stats: {
      chunks: counter.chunks,
      words: counter.words.size,
      droppedWords: counter.droppedWords,
      characters: coverage.distinct,
      requiredCharacters: characters.length,
      characterCoverage: coverage.covered,
      merges: learned.length,
      vocabSize: Object.keys(json.model.vocab).length,
    },
  };
}

async function readCorpus(
  corpus: Iterable<string> | AsyncIterable<string>,
  counter: WordCounter,
  options: ResolvedTrainBpeOptions,
): Promise<void> {
  const progress = (): void =>
    options.onProgress?.({ phase: "counting", chunks: counter.chunks, words: counter.words.size, merges: 0, targetMerges: 0 });
  if (typeof corpus === "string") {
    throw new InvalidArgumentError("corpus", "expected an iterable of strings (documents or lines), got one string");
  }
  const isObject = typeof corpus === "object" && corpus !== null;
  // A plain iterable is read without `await` per chunk: millions of lines would each cost a tick.
  if (isObject && typeof (corpus as Iterable<string>)[Symbol.iterator] === "function") {
    for (const chunk of corpus as Iterable<string>) {
      counter.add(chunk);
      if (counter.chunks % PROGRESS_CHUNKS === 0) progress();
    }
  } else if (isObject && typeof (corpus as AsyncIterable<string>)[Symbol.asyncIterator] === "function") {
    for await (const chunk of corpus as AsyncIterable<string>) {
      counter.add(chunk);
      if (counter.chunks % PROGRESS_CHUNKS === 0) progress();
    }
  } else {
    throw new InvalidArgumentError("corpus", `expected an iterable or async iterable of strings, got ${corpus === null ? "null" : typeof corpus}`);
  }
  progress();
  if (counter.words.size === 0) {
    throw new InvalidArgumentError("corpus", "is empty: it holds no text outside special and newline tokens");
  }
}

/**
 * spm's required characters: most frequent first, taken until they cover `coverage` of all
 * character occurrences (compared in single precision, as spm's float does).
 */
function chooseCharacters(
  counts: readonly [number, number][],
  coverage: number,
): { characters: number[]; distinct: number; covered: number } {
  let total = 0;
  for (const [, count] of counts) total += count;
  const characters: number[] = [];
  let accumulated = 0;
  const threshold = Math.fround(coverage);
  for (const [codePoint, count] of counts) {
    if (Math.fround(accumulated / total) >= threshold) break;
    accumulated += count;
    characters.push(codePoint);
  }
  return { characters, distinct: counts.length, covered: total > 0 ? accumulated / total : 0 };
}
