// What the tests share: small BPE vocabularies trained here on generated text, token shards of
// generated documents, a random tiny Gemma 2 teacher whose final soft-cap engages (large
// initializer range, a low cap), its log-softmax recomputed window by window as the reference,
// and temp folders.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Gemma2Model, type Gemma2Config, gemma2LayerTypes, initParams, presetConfig, Random } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { openTokenShards, type TokenShards, writeTokenShards } from "@gemma-ts/data";
import { GEMMA_SPECIAL_TOKENS, type Tokenizer, trainBpe } from "@gemma-ts/tokenizer";
import { LocalTeacher } from "../../src/index.js";

const WORDS = (
  "the a of to and in that is for it as was with be by on not he this are or his from at which but have an they you were her she " +
  "there one all we their been has would when more will if no out so said what up its about into than them can only other new some " +
  "time could these two may then do first any my now such like our over man me even most made after also did many before must through " +
  "river mountain garden letter window morning silver quiet distant harbor lantern meadow"
).split(" ");

/** `count` documents of a few generated sentences, the same for the same seed. */
export function generatedTexts(count: number, seed = 1): string[] {
  const random = new Random(seed);
  const pick = () => WORDS[Math.floor(random.uniform() * WORDS.length)]!;
  return Array.from({ length: count }, () => {
    const sentences = 1 + Math.floor(random.uniform() * 5);
    return Array.from({ length: sentences }, () => {
      const words = Array.from({ length: 4 + Math.floor(random.uniform() * 10) }, pick);
      return `${words[0]!.charAt(0).toUpperCase()}${words.join(" ").slice(1)}.`;
    }).join(" ");
  });
}

const tokenizers = new Map<string, Promise<Tokenizer>>();

/** A BPE vocabulary of `vocabSize` trained on generated text of `seed`. */
export function smallTokenizer(vocabSize = 512, seed = 1): Promise<Tokenizer> {
  const key = `${vocabSize}/${seed}`;
  let found = tokenizers.get(key);
  if (found === undefined) {
    found = trainBpe(generatedTexts(300, seed), { vocabSize, specialTokens: GEMMA_SPECIAL_TOKENS }).then((result) => result.toTokenizer());
    tokenizers.set(key, found);
  }
  return found;
}

export async function writeShards(tokenizer: Tokenizer, texts: readonly string[]): Promise<TokenShards> {
  const dir = await tempDir();
  await writeTokenShards({ inputs: [{ name: "generated", documents: texts.map((text) => ({ text })) }], tokenizer, outDir: dir });
  return openTokenShards(dir, { tokenizer });
}

/** A random tiny Gemma 2: short context (long documents take several windows), soft-cap 4 that engages. */
export function tinyConfig(vocabSize: number): Gemma2Config {
  return { ...presetConfig("gemma2-tiny"), vocabSize, numHiddenLayers: 2, layerTypes: gemma2LayerTypes(2), maxPositionEmbeddings: 48, finalLogitSoftcapping: 4, initializerRange: 0.5 };
}

export function tinyTeacher(tokenizer: Tokenizer, config: Gemma2Config = tinyConfig(tokenizer.vocabSize), seed = 5): LocalTeacher {
  const model = new Gemma2Model(config, initParams(config, seed), new OnnxBackend({ intraOpThreads: 1 }));
  return new LocalTeacher(model, tokenizer);
}

/**
 * The teacher's log-softmax (float64, after the temperature) at every position of a document,
 * each window of `windowLength` run alone: [length][V].
 */
export async function referenceLogprobs(teacher: LocalTeacher, ids: Int32Array, windowLength: number, temperature: number): Promise<Float64Array[]> {
  const V = teacher.model.config.vocabSize;
  const rows: Float64Array[] = [];
  for (let from = 0; from < ids.length; from += windowLength) {
    const window = Array.from(ids.subarray(from, Math.min(ids.length, from + windowLength)));
    const logits = await teacher.model.forward([window]);
    for (let t = 0; t < window.length; t++) rows.push(logSoftmax(logits.data.subarray(t * V, (t + 1) * V), temperature));
  }
  return rows;
}

export function logSoftmax(logits: ArrayLike<number>, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]! / temperature);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! / temperature - max);
  const logZ = max + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! / temperature - logZ;
  return out;
}

const made: string[] = [];
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gemma-ts-distill-"));
  made.push(dir);
  return dir;
}

export async function cleanup(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}
