// The briefly trained test model: gemma2-tiny as writeTestModel shapes it (vocabulary 1000 from
// trainBpe), trained for a few hundred steps on chat-corpus.ts's conversations, the loss on the
// model turns only. The tokenizer also learns from those answers, and has Gemma's <start_of_turn>
// and <end_of_turn> as special tokens, so a turn ends on one token and the server stops there as it
// does for a real Gemma. Random weights give near-uniform logits, which every constraint and
// parser handles the same way; this model's are peaked: greedily, it answers the tests' weather
// question with a call to get_weather, a request for JSON with JSON, a greeting or a question
// about the Union with a sentence learned by heart. (It did not learn to write only calls to the
// tools offered, nor to answer a weather question in prose when none are.)
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initParams, languageModelBatch, languageModeling, presetConfig, Random, train, Trainer, warmupCosine, type Gemma2Config, type TrainBatch } from "@gemma-ts/core";
import { loadHfCheckpoint, OnnxBackend, saveHfCheckpoint } from "@gemma-ts/core/node";
import { chatPromptIds } from "@gemma-ts/serve";
import { GEMMA_SPECIAL_TOKENS, trainBpe, type Tokenizer } from "@gemma-ts/tokenizer";
import { trainingExamples, type TrainingExample } from "./chat-corpus.js";
import { sotuText, VOCAB_SIZE } from "./test-model.js";

const TOKENIZER_FILE = "tokenizer.json";
const STEPS = 300;
const BATCH_SIZE = 4;
/**
 * Tokens a row reads: a model turn and the prompt before it, most of a tool list included (~350-450
 * tokens). Trained on rows of 128, which never hold a whole tool list, the model answered the
 * tests' long tool prompts with a call or with prose by chance of the run.
 */
const SEQUENCE_LENGTH = 256;
const EXAMPLES = 1500;
/**
 * Sentences the prose answers are made of: few enough to be learned by heart in these steps, so
 * prose comes out as whole sentences with peaked logits, not as near-random word pieces.
 */
const PROSE_SENTENCES = 48;

export interface TrainedModelFigures {
  steps: number;
  /** Tokens read per step (the loss counts those of model turns). */
  tokensPerStep: number;
  /** Mean loss per model-turn token on held-out conversations, before and after training. */
  lossBefore: number;
  lossAfter: number;
  /** Seconds spent training (the steps), and in all (tokenizer, text and saving too). */
  trainingSeconds: number;
  totalSeconds: number;
}

/** Trains the model and writes config.json, model.safetensors and tokenizer.json into `folder`. */
export async function writeTrainedModel(folder: string, seed = 0): Promise<TrainedModelFigures> {
  const started = performance.now();
  const speeches = sotuText();
  const sentences = sentencesOf(speeches).slice(0, PROSE_SENTENCES);
  const examples = trainingExamples(EXAMPLES, seed, sentences);
  const trained = await trainBpe([...speeches, ...examples.map((example) => ("prose" in example ? example.prose : example.reply))], {
    vocabSize: VOCAB_SIZE,
    specialTokens: [...GEMMA_SPECIAL_TOKENS, "<start_of_turn>", "<end_of_turn>"],
  });
  const tokenizer = trained.toTokenizer();
  const stream = tokenStream(tokenizer, examples);
  const heldOut = rows(tokenStream(tokenizer, trainingExamples(64, seed + 1, sentences)), 16, new Random(seed));

  const config: Gemma2Config = { ...presetConfig("gemma2-tiny"), vocabSize: VOCAB_SIZE };
  const trainer = new Trainer({
    config,
    // One thread: on two busy cores a step took twice as long with two.
    backend: new OnnxBackend({ intraOpThreads: 1 }),
    params: initParams(config, seed),
    objective: languageModeling(),
    optimizer: { weightDecay: 0.01, noDecay: (name) => name.endsWith("norm.weight"), maxGradNorm: 1 },
  });
  try {
    const lossBefore = (await trainer.evaluate(heldOut)).loss;
    const trainingStarted = performance.now();
    await train({
      trainer,
      steps: STEPS,
      schedule: warmupCosine({ maxLr: 1e-2, warmupSteps: 30, totalSteps: STEPS }),
      batch: (step) => rows(stream, BATCH_SIZE, new Random(seed * 1_000_003 + step)),
    });
    const trainingSeconds = (performance.now() - trainingStarted) / 1000;
    const lossAfter = (await trainer.evaluate(heldOut)).loss;
    mkdirSync(folder, { recursive: true });
    await saveHfCheckpoint(folder, config, await trainer.read());
    writeFileSync(join(folder, TOKENIZER_FILE), trained.toJsonString());
    return { steps: STEPS, tokensPerStep: BATCH_SIZE * SEQUENCE_LENGTH, lossBefore, lossAfter, trainingSeconds, totalSeconds: (performance.now() - started) / 1000 };
  } finally {
    await trainer.dispose();
  }
}

/** Where trained-model-setup.ts puts the model once written whole, or the error when training failed. */
export const TRAINED_READY = "model";
export const TRAINED_FAILED = "error.txt";

/**
 * The trained model's folder under `root`, once training has written it; throws what training
 * threw. The wait ends before a hook's 120 s timeout, so a stuck training says so.
 */
export async function trainedModelFolder(root: string, timeoutMs = 110_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(join(root, TRAINED_READY))) return join(root, TRAINED_READY);
    if (existsSync(join(root, TRAINED_FAILED))) throw new Error(`training the test model failed: ${readFileSync(join(root, TRAINED_FAILED), "utf8")}`);
    if (Date.now() > deadline) throw new Error(`the trained test model did not appear in ${root} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The trained model in another folder, with config fields changed (e.g. a longer context); the weights as trained. */
export async function copyTrainedModel(source: string, folder: string, config: Partial<Gemma2Config> = {}): Promise<void> {
  const checkpoint = await loadHfCheckpoint(source);
  await saveHfCheckpoint(folder, { ...checkpoint.config, ...config }, checkpoint.params);
  copyFileSync(join(source, TOKENIZER_FILE), join(folder, TOKENIZER_FILE));
}

/** Every example's ids end to end, with which of them the loss counts, and where each example ends. */
interface TokenStream {
  ids: number[];
  /** 1 where the token is one the model should learn to write (a model turn, prose), else 0. */
  learned: number[];
  ends: number[];
}

function tokenStream(tokenizer: Tokenizer, examples: readonly TrainingExample[]): TokenStream {
  const stream: TokenStream = { ids: [], learned: [], ends: [] };
  const push = (ids: ArrayLike<number>, learned: number) => {
    for (const id of Array.from(ids)) {
      stream.ids.push(id);
      stream.learned.push(learned);
    }
  };
  for (const example of examples) {
    if ("prose" in example) {
      push([tokenizer.special.bos!], 0);
      push(tokenizer.encode(example.prose, { addSpecialTokens: false }).ids, 1);
      push([tokenizer.special.eos!], 1);
    } else {
      // The prompt exactly as the server renders the request, then the turn it should answer.
      push(chatPromptIds(tokenizer, example.messages, example.tools ? { tools: example.tools } : {}), 0);
      push(tokenizer.encode(example.reply, { addSpecialTokens: false }).ids, 1);
      push([tokenizer.special.endOfTurn!], 1);
      push(tokenizer.encode("\n", { addSpecialTokens: false }).ids, 0);
    }
    stream.ends.push(stream.ids.length);
  }
  return stream;
}

/** `count` rows, each the SEQUENCE_LENGTH + 1 tokens up to the end of an example drawn at random. */
function rows(stream: TokenStream, count: number, random: Random): TrainBatch {
  const ends = stream.ends.filter((end) => end > SEQUENCE_LENGTH);
  const picked = Array.from({ length: count }, () => ends[Math.floor(random.uniform() * ends.length)]!);
  const windows = picked.map((end) => stream.ids.slice(end - SEQUENCE_LENGTH - 1, end));
  return languageModelBatch(windows, picked.map((end) => stream.learned.slice(end - SEQUENCE_LENGTH, end)));
}

/** The speeches' sentences of a plain shape and middling length, for answers in prose. */
function sentencesOf(speeches: readonly string[]): string[] {
  return speeches.flatMap((speech) => speech.split(/(?<=[.!?])\s+/)).filter((sentence) => sentence.length >= 40 && sentence.length <= 160 && /^[A-Z][\x20-\x7e]*[.!?]$/.test(sentence));
}
