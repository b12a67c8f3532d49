// The on-disk layout of a tokenized corpus (see README.md, "Shard layout"): index.json plus, per
// shard, a tokens file (little-endian uint16 or uint32 ids), a lengths file (little-endian uint32
// token count of each document, in order) and, only when the shard holds a chat document, a mask
// file (one byte per token: 1 = the token is a training target).
import { MalformedShardsError } from "./errors.js";

export const INDEX_FILE = "index.json";
export const SHARD_FORMAT = "gemma-ts-token-shards";
export const SHARD_FORMAT_VERSION = 1;

export type TokenDtype = "uint16" | "uint32";

export interface ShardEntry {
  /** File names, relative to the shard folder. */
  tokens: string;
  lengths: string;
  /** Absent when every document of the shard is plain text (the mask then follows from the lengths). */
  mask?: string;
  documents: number;
  tokenCount: number;
}

export interface ShardSource {
  /** The input as given to writeTokenShards (a path, or a source's name). */
  name: string;
  documents: number;
  tokens: number;
}

export interface TokenShardIndex {
  format: typeof SHARD_FORMAT;
  version: typeof SHARD_FORMAT_VERSION;
  dtype: TokenDtype;
  vocabSize: number;
  tokenizer: { fingerprint: string; bos: number; eos: number; pad: number | null };
  documents: number;
  tokens: number;
  chatDocuments: number;
  shards: ShardEntry[];
  sources: ShardSource[];
}

export function dtypeFor(vocabSize: number): TokenDtype {
  return vocabSize <= 0x10000 ? "uint16" : "uint32";
}

export function bytesPerToken(dtype: TokenDtype): number {
  return dtype === "uint16" ? 2 : 4;
}

export function shardFileNames(shard: number): { tokens: string; lengths: string; mask: string } {
  const n = String(shard).padStart(5, "0");
  return { tokens: `tokens-${n}.bin`, lengths: `lengths-${n}.bin`, mask: `mask-${n}.bin` };
}

/** Names a shard folder's own files carry, for cleaning out the shards of an earlier write. */
export const SHARD_FILE_PATTERN = /^(tokens|lengths|mask)-\d{5,}\.bin$/;

/** Checks an index.json's structure and its own sums; the files are checked against it on open. */
export function parseIndex(path: string, text: string): TokenShardIndex {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MalformedShardsError(path, `not JSON (${(error as Error).message})`, { cause: error });
  }
  const bad = (field: string, problem: string) => new MalformedShardsError(path, `${field}: ${problem}`);
  const index = value as TokenShardIndex;
  if (index === null || typeof index !== "object") throw bad("(root)", "expected an object");
  if (index.format !== SHARD_FORMAT) throw bad("format", `expected "${SHARD_FORMAT}", got ${JSON.stringify(index.format)}`);
  if (index.version !== SHARD_FORMAT_VERSION) throw bad("version", `expected ${SHARD_FORMAT_VERSION}, got ${JSON.stringify(index.version)}`);
  if (index.dtype !== "uint16" && index.dtype !== "uint32") throw bad("dtype", `expected "uint16" or "uint32", got ${JSON.stringify(index.dtype)}`);
  const count = (field: string, n: unknown) => {
    if (!Number.isSafeInteger(n) || (n as number) < 0) throw bad(field, `expected a count, got ${JSON.stringify(n)}`);
    return n as number;
  };
  count("vocabSize", index.vocabSize);
  if (index.dtype === "uint16" && index.vocabSize > 0x10000) throw bad("vocabSize", `${index.vocabSize} ids do not fit uint16`);
  const tokenizer = index.tokenizer;
  if (tokenizer === null || typeof tokenizer !== "object" || typeof tokenizer.fingerprint !== "string") {
    throw bad("tokenizer", "expected { fingerprint, bos, eos, pad }");
  }
  count("tokenizer.bos", tokenizer.bos);
  count("tokenizer.eos", tokenizer.eos);
  if (tokenizer.pad !== null) count("tokenizer.pad", tokenizer.pad);
  if (!Array.isArray(index.shards)) throw bad("shards", "expected an array");
  if (!Array.isArray(index.sources)) throw bad("sources", "expected an array");
  let documents = 0;
  let tokens = 0;
  index.shards.forEach((shard, i) => {
    const field = `shards[${i}]`;
    if (shard === null || typeof shard !== "object") throw bad(field, "expected an object");
    const names: ("tokens" | "lengths" | "mask")[] = shard.mask === undefined ? ["tokens", "lengths"] : ["tokens", "lengths", "mask"];
    for (const name of names) {
      const file = shard[name];
      if (typeof file !== "string" || !SHARD_FILE_PATTERN.test(file)) throw bad(`${field}.${name}`, `not a shard file name: ${JSON.stringify(file)}`);
    }
    documents += count(`${field}.documents`, shard.documents);
    tokens += count(`${field}.tokenCount`, shard.tokenCount);
    if (shard.tokenCount > 0xffffffff) throw bad(`${field}.tokenCount`, "a shard holds at most 2^32 - 1 tokens");
  });
  if (count("documents", index.documents) !== documents) throw bad("documents", `${index.documents}, but the shards hold ${documents}`);
  if (count("tokens", index.tokens) !== tokens) throw bad("tokens", `${index.tokens}, but the shards hold ${tokens}`);
  count("chatDocuments", index.chatDocuments);
  return index;
}

const BIG_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/** Ids as the shard stores them: little-endian uint16 or uint32. */
export function encodeIds(ids: Int32Array, dtype: TokenDtype): Uint8Array {
  const typed = dtype === "uint16" ? Uint16Array.from(ids) : Uint32Array.from(ids);
  const bytes = new Uint8Array(typed.buffer);
  if (BIG_ENDIAN) swapBytes(bytes, typed.BYTES_PER_ELEMENT);
  return bytes;
}

export function encodeUint32(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(Uint32Array.from(values).buffer);
  if (BIG_ENDIAN) swapBytes(bytes, 4);
  return bytes;
}

/** Reads little-endian words in place (a no-op on the little-endian machines Node runs on). */
export function fromLittleEndian(bytes: Uint8Array, width: number): void {
  if (BIG_ENDIAN) swapBytes(bytes, width);
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let at = 0; at < bytes.length; at += width) bytes.subarray(at, at + width).reverse();
}
