// gemma-ts distill store's work. The data is tokenized with the teacher's own tokenizer into token
// shards in the store's folder (tokens/), then the teacher (a local Hugging Face or exported ONNX
// folder, or an OpenAI-compatible endpoint scoring token-id prompts, given the tokenizer.json its
// model uses and, when it wants one, an API key)
// scores them once into the store (@gemma-ts/distill's writeTeacherStore). The tokenizer.json is kept
// beside the store, so a student trained on it (`train --teacher-store`) tokenizes its data the
// same way and gets the same shards, which the store's index names by fingerprint.
//
// A rerun tokenizes again rather than trusting shards already there: the shards' index does not
// record the text unit, and tokenizing costs little beside the teacher. The same inputs give the
// same shards, so writeTeacherStore keeps the chunks an interrupted run completed and continues
// after them; the finished store is byte-identical to one written in one go.
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile } from "@gemma-ts/core/node";
import type { TextUnit } from "@gemma-ts/data";
import {
  type DistillError,
  LocalTeacher,
  OpenAITeacher,
  type StoreSelection,
  type Teacher,
  TeacherAuthError,
  type TeacherStoreIndex,
  type ValueDtype,
  writeTeacherStore,
} from "@gemma-ts/distill";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { tokenizerFromJson } from "@gemma-ts/tokenizer";
import { InvalidArgumentError } from "commander";
import { exists, TOKENIZER_FILE } from "../training/run-folder.js";
import { tokenShards } from "../training/token-data.js";
import { distillErrorsAsUsage } from "./distill-errors.js";
import { storeProgress } from "./store-progress.js";

/** The store folder's token shards: the data as the teacher read it. */
export const STORE_TOKENS_DIR = "tokens";
/** The teacher's tokenizer.json, copied beside the store. */
export const STORE_TOKENIZER_FILE = TOKENIZER_FILE;

/** Tokens per call to an endpoint teacher: enough rows per request that batching and concurrency pay. */
const ENDPOINT_BATCH_TOKENS = 64 * 1024;

export interface StoreRunOptions {
  /** The teacher's folder (Hugging Face, or an exported ONNX folder; with tokenizer.json), absolute, or an endpoint URL. */
  teacher: string;
  /** An endpoint teacher's API key, sent as Authorization: Bearer. */
  apiKey?: string | undefined;
  /** The tokenizer.json of an endpoint teacher's model (a folder teacher holds its own). */
  tokenizer?: string;
  /** An endpoint teacher's model name (default: its only one) and context length. */
  teacherModel?: string;
  teacherContext?: number;
  data: string[];
  textUnit: TextUnit;
  out: string;
  selection: StoreSelection;
  seed: number;
  /** Tokens per teacher window (default: the teacher's context, at most 1,024). */
  windowLength?: number;
  batchTokens?: number;
  chunkPositions?: number;
  valueDtype?: ValueDtype;
  threads?: number;
}

export interface StoreRunResult {
  index: TeacherStoreIndex;
  /** Tokens scored by this run (0 when the store was complete already) and the seconds it took. */
  scored: { tokens: number; seconds: number };
}

export async function runStore(options: StoreRunOptions): Promise<StoreRunResult> {
  const endpoint = /^https?:\/\//i.test(options.teacher);
  if (endpoint && options.tokenizer === undefined) {
    throw new InvalidArgumentError(`--teacher ${options.teacher}: an endpoint teacher needs --tokenizer, the tokenizer.json its model uses (the data is tokenized with it)`);
  }
  const tokenizerPath = options.tokenizer ?? join(options.teacher, TOKENIZER_FILE);
  if (!(await exists(tokenizerPath))) {
    throw new InvalidArgumentError(
      options.tokenizer === undefined ? `${options.teacher} has no ${TOKENIZER_FILE}; the data is tokenized with the teacher's tokenizer, so the teacher folder must hold it` : `--tokenizer ${tokenizerPath}: no such file`,
    );
  }
  const tokenizerJson = await readFile(tokenizerPath);
  const tokenizer = tokenizerFromJson(tokenizerJson);
  await mkdir(options.out, { recursive: true });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const shards = await tokenShards({ dir: join(options.out, STORE_TOKENS_DIR), inputs: options.data, tokenizer, textUnit: options.textUnit, reuse: false, log: say });
  try {
    const teacher = await distillErrorsAsUsage(() => openTeacher(options, tokenizer), withKeyHint);
    const progress = storeProgress();
    try {
      await atomicWriteFile(join(options.out, STORE_TOKENIZER_FILE), tokenizerJson);
      const { mode, k, temperature } = options.selection;
      const index = await distillErrorsAsUsage(() =>
        writeTeacherStore({
          teacher,
          shards,
          outDir: options.out,
          mode,
          k,
          temperature,
          seed: options.seed,
          ...(options.windowLength === undefined ? {} : { windowLength: options.windowLength }),
          ...(options.batchTokens === undefined ? (endpoint ? { batchTokens: ENDPOINT_BATCH_TOKENS } : {}) : { batchTokens: options.batchTokens }),
          ...(options.chunkPositions === undefined ? {} : { chunkPositions: options.chunkPositions }),
          ...(options.valueDtype === undefined ? {} : { valueDtype: options.valueDtype }),
          onProgress: (update) => progress.update(update),
        }),
        withKeyHint,
      );
      progress.stop();
      return { index, scored: progress.scored };
    } finally {
      progress.stop();
      await teacher.close();
    }
  } finally {
    await shards.close();
  }
}

/**
 * A 401 names the flag that sets the key: the library's message says whether the key was refused
 * or missing, not how a user of this command gives one.
 */
export function withKeyHint(error: DistillError): string | undefined {
  if (!(error instanceof TeacherAuthError)) return undefined;
  return `${error.message}; ${error.keySent ? "check the key given by --api-key (or OPENAI_API_KEY)" : "give one with --api-key (or OPENAI_API_KEY)"}`;
}

/** A folder run here (Hugging Face or exported ONNX), or an endpoint (which checks its vocabulary against the tokenizer when it connects). */
function openTeacher(options: StoreRunOptions, tokenizer: Tokenizer): Promise<Teacher> {
  if (!/^https?:\/\//i.test(options.teacher)) return LocalTeacher.fromFolder(options.teacher, { tokenizer, ...(options.threads === undefined ? {} : { threads: options.threads }) });
  return OpenAITeacher.connect({
    url: options.teacher,
    tokenizer,
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(options.teacherModel === undefined ? {} : { model: options.teacherModel }),
    ...(options.teacherContext === undefined ? {} : { contextLength: options.teacherContext }),
  });
}
