// Scores the corpus once with a teacher into a store (store-format.ts). Chunks are written whole
// or not at all (a temp file renamed into place) in corpus order; settings.json, written first,
// records what decides the bytes. A rerun with the same settings keeps the complete chunks on
// disk and resumes at the teacher call that holds the first missing position (windows.ts: the
// calls are fixed by the settings, so it repeats exactly the calls an uninterrupted run makes);
// the finished store is byte-identical to one written in one go. index.json comes last: a folder
// with an index.json is a complete store, and an old index is removed before anything is rewritten.
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile } from "@gemma-ts/core/node";
import type { TokenShards } from "@gemma-ts/data";
import { ChunkBuilder } from "./chunk-codec.js";
import { DistillError, InvalidArgumentError } from "./errors.js";
import { checkSparseRequest } from "./sparsify.js";
import {
  bytesPerPosition,
  CHUNK_FILE_PATTERN,
  chunkCount,
  chunkFileName,
  chunkSections,
  DOCUMENTS_FILE,
  idDtypeFor,
  parseStoreIndex,
  settingsOf,
  STORE_FORMAT,
  STORE_FORMAT_VERSION,
  STORE_INDEX_FILE,
  STORE_SETTINGS_FILE,
  type ChunkEntry,
  type StoreSettings,
  swapToLittleEndian,
  type TeacherStoreIndex,
  type ValueDtype,
} from "./store-format.js";
import type { SparseMode, Teacher, TeacherRow } from "./teacher.js";
import { checkVocabulary, shardsFingerprint } from "./vocabulary.js";
import { planCalls, planWindows } from "./windows.js";

export interface WriteTeacherStoreOptions {
  teacher: Teacher;
  shards: TokenShards;
  outDir: string;
  mode: SparseMode;
  /** Entries per position: the k most likely ids, or k draws. */
  k: number;
  /** Divides the soft-capped logits before the softmax. */
  temperature: number;
  /** Seeds the draws of "sample" mode (default 0). */
  seed?: number;
  /** Default: the teacher's context, at most 1024. */
  windowLength?: number;
  /** Most tokens (rows x longest row) per teacher call; default about 512 MiB of float32 logits. */
  batchTokens?: number;
  /** Positions per chunk file (default 16,384). */
  chunkPositions?: number;
  /** How log-probs are stored (default "float16"; chunk-codec.ts has its error). */
  valueDtype?: ValueDtype;
  onProgress?: (progress: WriteTeacherStoreProgress) => void;
  /** Stops the run between teacher calls; a rerun continues from the last complete chunk. */
  signal?: AbortSignal;
}

/** Reported after each chunk written and each teacher call. */
export interface WriteTeacherStoreProgress {
  /** Positions scored so far (including those kept from an earlier run). */
  positions: number;
  totalPositions: number;
  chunks: number;
  totalChunks: number;
  /** Positions kept from an earlier, interrupted run. */
  resumedPositions: number;
}

const DEFAULT_CHUNK_POSITIONS = 16384;
const LOGIT_BUDGET_FLOATS = 2 ** 27;

/** The settings a run with these options writes (and a rerun must match to resume). */
export function storeSettings(options: WriteTeacherStoreOptions): StoreSettings {
  const { teacher, shards } = options;
  const seed = options.seed ?? 0;
  const vocabSize = teacher.vocabulary.size;
  checkSparseRequest({ mode: options.mode, k: options.k, temperature: options.temperature, seed }, vocabSize);
  const windowLength = options.windowLength ?? Math.min(teacher.maxContext, 1024);
  const batchTokens = options.batchTokens ?? Math.max(1, Math.floor(LOGIT_BUDGET_FLOATS / vocabSize));
  const chunkPositions = options.chunkPositions ?? DEFAULT_CHUNK_POSITIONS;
  const positive = (name: string, value: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new InvalidArgumentError(name, `expected an integer in [1, ${max}], got ${value}`);
  };
  positive("windowLength", windowLength, teacher.maxContext);
  positive("batchTokens", batchTokens);
  positive("chunkPositions", chunkPositions, 2 ** 24);
  const valueDtype = options.valueDtype ?? "float16";
  if (valueDtype !== "float16" && valueDtype !== "float32") throw new InvalidArgumentError("valueDtype", `expected "float16" or "float32", got ${JSON.stringify(valueDtype)}`);
  return settingsOf({
    mode: options.mode,
    k: options.k,
    temperature: options.temperature,
    seed,
    windowLength,
    batchTokens,
    chunkPositions,
    idDtype: idDtypeFor(vocabSize),
    valueDtype,
    vocabSize,
    teacher: { fingerprint: teacher.fingerprint, tokenizer: teacher.vocabulary.fingerprint },
    shards: { fingerprint: shardsFingerprint(shards), tokenizer: shards.index.tokenizer.fingerprint, documents: shards.documentCount, tokens: shards.tokenCount },
  });
}

export async function writeTeacherStore(options: WriteTeacherStoreOptions): Promise<TeacherStoreIndex> {
  const { teacher, shards, outDir } = options;
  checkVocabulary(teacher.vocabulary, shards);
  const settings = storeSettings(options);
  const settingsText = `${JSON.stringify(settings, null, 2)}\n`;
  await mkdir(outDir, { recursive: true });
  const finished = await readIfPresent(join(outDir, STORE_INDEX_FILE));
  if (finished !== undefined) {
    const index = parseStoreIndex(join(outDir, STORE_INDEX_FILE), finished);
    if (JSON.stringify(settingsOf(index)) === JSON.stringify(settings)) return index;
    await rm(join(outDir, STORE_INDEX_FILE));
  }
  const C = settings.chunkPositions;
  const totalPositions = shards.tokenCount;
  const totalChunks = chunkCount(totalPositions, C);
  const chunkBytes = (chunk: number) => chunkSections(settings, Math.min(C, totalPositions - chunk * C)).end;
  let kept = 0;
  if ((await readIfPresent(join(outDir, STORE_SETTINGS_FILE))) === settingsText) {
    while (kept < totalChunks && (await fileSize(join(outDir, chunkFileName(kept)))) === chunkBytes(kept)) kept++;
  } else {
    await removeStoreFiles(outDir);
    await atomicWriteFile(join(outDir, STORE_SETTINGS_FILE), settingsText);
  }
  const lengths = Uint32Array.from({ length: shards.documentCount }, (_, d) => shards.documentLengthOf(d));
  const documentBytes = new Uint8Array(lengths.buffer.slice(0));
  swapToLittleEndian(documentBytes, 4);
  await atomicWriteFile(join(outDir, DOCUMENTS_FILE), documentBytes);

  const resumedPositions = kept * C;
  const chunks: ChunkEntry[] = [];
  for (let chunk = 0; chunk < kept; chunk++) {
    const file = chunkFileName(chunk);
    chunks.push({ file, positions: Math.min(C, totalPositions - chunk * C), bytes: chunkBytes(chunk), sha256: sha256(await readFile(join(outDir, file))) });
  }
  const report = (positions: number) => options.onProgress?.({ positions, totalPositions, chunks: chunks.length, totalChunks, resumedPositions });
  report(resumedPositions);
  const builder = new ChunkBuilder(settings, C);
  const flush = async () => {
    const bytes = builder.bytes();
    const file = chunkFileName(chunks.length);
    await atomicWriteFile(join(outDir, file), bytes);
    chunks.push({ file, positions: builder.size, bytes: bytes.length, sha256: sha256(bytes) });
    builder.reset();
    report(Math.min(totalPositions, chunks.length * C));
  };
  const windows = planWindows(lengths, settings.windowLength);
  const request = { mode: settings.mode, k: settings.k, temperature: settings.temperature, seed: settings.seed };
  for (const call of planCalls(windows, settings.batchTokens)) {
    const last = windows[call.end - 1]!;
    if (last.position + last.count <= resumedPositions) continue;
    options.signal?.throwIfAborted();
    const rows: TeacherRow[] = [];
    for (let w = call.first; w < call.end; w++) {
      const window = windows[w]!;
      const ids = new Int32Array(window.count);
      await shards.readInto(window.document, window.from, window.count, ids, new Uint8Array(window.count), 0);
      rows.push({ ids, position: window.position });
    }
    const scores = await teacher.score(rows, request);
    const expected = rows.reduce((sum, row) => sum + row.ids.length, 0);
    if (scores.positions !== expected || scores.k !== settings.k || scores.ids.length !== expected * settings.k) {
      throw new DistillError("INVALID_ARGUMENT", `the teacher returned ${scores.positions} positions of ${scores.k} entries for ${expected} positions of ${settings.k}`);
    }
    let index = 0;
    for (const row of rows) {
      for (let t = 0; t < row.ids.length; t++, index++) {
        if (row.position + t < resumedPositions) continue;
        for (let j = index * settings.k; j < (index + 1) * settings.k; j++) {
          const id = scores.ids[j]!;
          if (!(id >= 0 && id < settings.vocabSize)) throw new DistillError("INVALID_ARGUMENT", `the teacher returned id ${id} at corpus position ${row.position + t}, outside the vocabulary of ${settings.vocabSize}`);
        }
        builder.push(row.ids[t]!, scores, index);
        if (builder.full) await flush();
      }
    }
    if (builder.size > 0) report(chunks.length * C + builder.size);
  }
  if (builder.size > 0) await flush();
  const documentsFile = { bytes: documentBytes.length, sha256: sha256(documentBytes) };
  const index: TeacherStoreIndex = {
    format: STORE_FORMAT,
    version: STORE_FORMAT_VERSION,
    ...settings,
    positions: totalPositions,
    bytesPerToken: bytesPerPosition(settings),
    documentsFile,
    chunks,
  };
  await atomicWriteFile(join(outDir, STORE_INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
  await rm(join(outDir, STORE_SETTINGS_FILE), { force: true });
  return index;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const handle = await open(path, "r");
    try {
      return (await handle.stat()).size;
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The files of an earlier store in the folder (only the store's own names; nothing else is touched). */
async function removeStoreFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (CHUNK_FILE_PATTERN.test(name) || name === DOCUMENTS_FILE || name === STORE_SETTINGS_FILE || name === STORE_INDEX_FILE) await rm(join(dir, name), { force: true });
  }
}
