// The on-disk layout of a teacher store (README.md, "Store format"): index.json, documents.bin
// (little-endian uint32 length of each document, in the shards' order) and chunk files of
// `chunkPositions` consecutive corpus positions each (the last one shorter). Corpus position
// p = (tokens of the documents before) + (position within the document). A chunk of n positions
// is four sections, struct of arrays, each little-endian:
//   tokens   n       x id     the input token at the position (checks alignment on read)
//   ids      n x k   x id     the stored ids, best first, unused slots last
//   values   n x k   x value  their log-probs (float16 or float32), -Infinity in unused slots
//   residual n       x f32    the teacher's mass outside the stored ids
// where id is uint16 when the vocabulary fits, else uint32.
import { MalformedStoreError } from "./errors.js";
import type { SparseMode } from "./teacher.js";

export const STORE_INDEX_FILE = "index.json";
/** Written first by a run and removed last: what a rerun must match to keep the chunks on disk. */
export const STORE_SETTINGS_FILE = "settings.json";
export const DOCUMENTS_FILE = "documents.bin";
export const STORE_FORMAT = "gemma-ts-teacher-store";
export const STORE_FORMAT_VERSION = 1;
export const CHUNK_FILE_PATTERN = /^chunk-\d{5,}\.bin$/;

export type IdDtype = "uint16" | "uint32";
export type ValueDtype = "float16" | "float32";

/** Everything that decides a store's bytes: a rerun with equal settings continues the run. */
export interface StoreSettings {
  mode: SparseMode;
  k: number;
  temperature: number;
  seed: number;
  /** Documents longer than this are scored in consecutive windows of this many tokens. */
  windowLength: number;
  /** Most tokens (rows x longest row) in one teacher call. */
  batchTokens: number;
  chunkPositions: number;
  idDtype: IdDtype;
  valueDtype: ValueDtype;
  vocabSize: number;
  teacher: { fingerprint: string; tokenizer: string };
  shards: { fingerprint: string; tokenizer: string; documents: number; tokens: number };
}

export interface ChunkEntry {
  file: string;
  positions: number;
  bytes: number;
  sha256: string;
}

export interface TeacherStoreIndex extends StoreSettings {
  format: typeof STORE_FORMAT;
  version: typeof STORE_FORMAT_VERSION;
  positions: number;
  /** Chunk bytes per position (every position is a token of the shards). */
  bytesPerToken: number;
  documentsFile: { bytes: number; sha256: string };
  chunks: ChunkEntry[];
}

export function idDtypeFor(vocabSize: number): IdDtype {
  return vocabSize <= 0x10000 ? "uint16" : "uint32";
}

export function idBytes(dtype: IdDtype): number {
  return dtype === "uint16" ? 2 : 4;
}

export function valueBytes(dtype: ValueDtype): number {
  return dtype === "float16" ? 2 : 4;
}

export function bytesPerPosition(settings: Pick<StoreSettings, "k" | "idDtype" | "valueDtype">): number {
  const id = idBytes(settings.idDtype);
  return id + settings.k * (id + valueBytes(settings.valueDtype)) + 4;
}

/** Byte offsets of a chunk's sections, for a chunk of n positions. */
export function chunkSections(settings: Pick<StoreSettings, "k" | "idDtype" | "valueDtype">, n: number) {
  const id = idBytes(settings.idDtype);
  const tokens = 0;
  const ids = tokens + n * id;
  const values = ids + n * settings.k * id;
  const residual = values + n * settings.k * valueBytes(settings.valueDtype);
  return { tokens, ids, values, residual, end: residual + n * 4 };
}

export function chunkFileName(chunk: number): string {
  return `chunk-${String(chunk).padStart(5, "0")}.bin`;
}

export function chunkCount(positions: number, chunkPositions: number): number {
  return Math.ceil(positions / chunkPositions);
}

/** The settings fields of an index, in a fixed order (the order they are written in). */
export function settingsOf(value: StoreSettings): StoreSettings {
  return {
    mode: value.mode,
    k: value.k,
    temperature: value.temperature,
    seed: value.seed,
    windowLength: value.windowLength,
    batchTokens: value.batchTokens,
    chunkPositions: value.chunkPositions,
    idDtype: value.idDtype,
    valueDtype: value.valueDtype,
    vocabSize: value.vocabSize,
    teacher: { fingerprint: value.teacher.fingerprint, tokenizer: value.teacher.tokenizer },
    shards: { fingerprint: value.shards.fingerprint, tokenizer: value.shards.tokenizer, documents: value.shards.documents, tokens: value.shards.tokens },
  };
}

/** Checks an index.json's structure and its own sums; the files are checked against it on open. */
export function parseStoreIndex(path: string, text: string): TeacherStoreIndex {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MalformedStoreError(path, `not JSON (${(error as Error).message})`, { cause: error });
  }
  const bad = (field: string, problem: string) => new MalformedStoreError(path, `${field}: ${problem}`);
  const index = value as TeacherStoreIndex;
  if (index === null || typeof index !== "object") throw bad("(root)", "expected an object");
  if (index.format !== STORE_FORMAT) throw bad("format", `expected "${STORE_FORMAT}", got ${JSON.stringify(index.format)}`);
  if (index.version !== STORE_FORMAT_VERSION) throw bad("version", `expected ${STORE_FORMAT_VERSION}, got ${JSON.stringify(index.version)}`);
  const count = (field: string, n: unknown, min = 0) => {
    if (!Number.isSafeInteger(n) || (n as number) < min) throw bad(field, `expected an integer >= ${min}, got ${JSON.stringify(n)}`);
    return n as number;
  };
  const text_ = (field: string, s: unknown) => {
    if (typeof s !== "string") throw bad(field, `expected a string, got ${JSON.stringify(s)}`);
    return s;
  };
  if (index.mode !== "top-k" && index.mode !== "sample") throw bad("mode", `expected "top-k" or "sample", got ${JSON.stringify(index.mode)}`);
  count("k", index.k, 1);
  if (!(typeof index.temperature === "number" && index.temperature > 0)) throw bad("temperature", `expected a positive number, got ${JSON.stringify(index.temperature)}`);
  count("seed", index.seed);
  count("windowLength", index.windowLength, 1);
  count("batchTokens", index.batchTokens, 1);
  count("chunkPositions", index.chunkPositions, 1);
  if (index.idDtype !== "uint16" && index.idDtype !== "uint32") throw bad("idDtype", `expected "uint16" or "uint32", got ${JSON.stringify(index.idDtype)}`);
  if (index.valueDtype !== "float16" && index.valueDtype !== "float32") throw bad("valueDtype", `expected "float16" or "float32", got ${JSON.stringify(index.valueDtype)}`);
  count("vocabSize", index.vocabSize, 1);
  if (index.idDtype === "uint16" && index.vocabSize > 0x10000) throw bad("vocabSize", `${index.vocabSize} ids do not fit uint16`);
  if (index.k > index.vocabSize) throw bad("k", `${index.k} entries per position, but the vocabulary has ${index.vocabSize} ids`);
  if (index.teacher === null || typeof index.teacher !== "object") throw bad("teacher", "expected { fingerprint, tokenizer }");
  text_("teacher.fingerprint", index.teacher.fingerprint);
  text_("teacher.tokenizer", index.teacher.tokenizer);
  if (index.shards === null || typeof index.shards !== "object") throw bad("shards", "expected { fingerprint, tokenizer, documents, tokens }");
  text_("shards.fingerprint", index.shards.fingerprint);
  text_("shards.tokenizer", index.shards.tokenizer);
  count("shards.documents", index.shards.documents);
  count("shards.tokens", index.shards.tokens);
  if (count("positions", index.positions) !== index.shards.tokens) throw bad("positions", `${index.positions}, but the shards hold ${index.shards.tokens} tokens`);
  if (index.bytesPerToken !== bytesPerPosition(index)) throw bad("bytesPerToken", `${index.bytesPerToken}, but k, idDtype and valueDtype make ${bytesPerPosition(index)}`);
  if (index.documentsFile === null || typeof index.documentsFile !== "object") throw bad("documentsFile", "expected { bytes, sha256 }");
  if (count("documentsFile.bytes", index.documentsFile.bytes) !== index.shards.documents * 4) throw bad("documentsFile.bytes", `${index.documentsFile.bytes}, expected 4 per document (${index.shards.documents * 4})`);
  text_("documentsFile.sha256", index.documentsFile.sha256);
  if (!Array.isArray(index.chunks)) throw bad("chunks", "expected an array");
  if (index.chunks.length !== chunkCount(index.positions, index.chunkPositions)) {
    throw bad("chunks", `${index.chunks.length} chunks, but ${index.positions} positions in chunks of ${index.chunkPositions} make ${chunkCount(index.positions, index.chunkPositions)}`);
  }
  index.chunks.forEach((chunk, i) => {
    const field = `chunks[${i}]`;
    if (chunk === null || typeof chunk !== "object") throw bad(field, "expected an object");
    if (chunk.file !== chunkFileName(i)) throw bad(`${field}.file`, `expected "${chunkFileName(i)}", got ${JSON.stringify(chunk.file)}`);
    const expected = Math.min(index.chunkPositions, index.positions - i * index.chunkPositions);
    if (count(`${field}.positions`, chunk.positions) !== expected) throw bad(`${field}.positions`, `expected ${expected}, got ${chunk.positions}`);
    if (count(`${field}.bytes`, chunk.bytes) !== chunkSections(index, expected).end) throw bad(`${field}.bytes`, `expected ${chunkSections(index, expected).end}, got ${chunk.bytes}`);
    if (!/^[0-9a-f]{64}$/.test(text_(`${field}.sha256`, chunk.sha256))) throw bad(`${field}.sha256`, "expected 64 hex digits");
  });
  return index;
}

const BIG_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/** Converts little-endian words to the machine's order in place, or back (a no-op on little-endian machines). */
export function swapToLittleEndian(bytes: Uint8Array, width: number): void {
  if (!BIG_ENDIAN || width === 1) return;
  for (let at = 0; at < bytes.length; at += width) bytes.subarray(at, at + width).reverse();
}
