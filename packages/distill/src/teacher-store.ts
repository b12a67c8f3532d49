// Reading a store. Opening parses index.json, checks documents.bin and every chunk file's size
// (TruncatedChunkError) and, by default, its sha256 (ChecksumMismatchError); with shards it also
// checks that they are the ones the store was written for (StoreMismatchError). Positions are then
// read by range on demand, a few chunk files held open at a time.
import { createHash } from "node:crypto";
import { open, readFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { TokenShards } from "@gemma-ts/data";
import { decodeSections, type DecodedPositions } from "./chunk-codec.js";
import { ChecksumMismatchError, InvalidArgumentError, MalformedStoreError, StoreMismatchError, TruncatedChunkError } from "./errors.js";
import { chunkSections, DOCUMENTS_FILE, parseStoreIndex, STORE_INDEX_FILE, swapToLittleEndian, type TeacherStoreIndex } from "./store-format.js";
import { shardsFingerprint } from "./vocabulary.js";

export interface OpenTeacherStoreOptions {
  /** When given, the store must have been written for these shards. */
  shards?: TokenShards;
  /** "checksums" (default) reads every chunk once to check its sha256; "sizes" checks sizes only. */
  verify?: "checksums" | "sizes";
}

/** Positions of one document, in the trainer's form. */
export interface StorePositions {
  /** The input token at each position. */
  tokens: Int32Array;
  /** [count, k]; unused slots hold ids distinct from the stored ones. */
  ids: Int32Array;
  /** [count, k]; 0 in unused slots. */
  probs: Float32Array;
  /** [count]: the teacher's mass outside the stored ids. */
  residual: Float32Array;
}

const OPEN_CHUNKS = 16;

interface OpenChunk {
  handle: Promise<FileHandle>;
  /** Reads in flight. */
  users: number;
}

export async function openTeacherStore(dir: string, options: OpenTeacherStoreOptions = {}): Promise<TeacherStore> {
  const indexPath = join(dir, STORE_INDEX_FILE);
  let text: string;
  try {
    text = await readFile(indexPath, "utf8");
  } catch (error) {
    throw new MalformedStoreError(indexPath, `cannot read the index (${(error as Error).message}); is this a complete teacher store?`, { cause: error });
  }
  const index = parseStoreIndex(indexPath, text);
  if (options.shards) {
    const actual = shardsFingerprint(options.shards);
    if (actual !== index.shards.fingerprint) throw new StoreMismatchError(indexPath, "shards", index.shards.fingerprint, actual);
  }
  const documentsPath = join(dir, DOCUMENTS_FILE);
  const documentBytes = await readWhole(documentsPath, index.documentsFile.bytes);
  checkSha(documentsPath, documentBytes, index.documentsFile.sha256);
  swapToLittleEndian(documentBytes, 4);
  const lengths = new Uint32Array(documentBytes.buffer, documentBytes.byteOffset, index.shards.documents);
  const starts = new Float64Array(lengths.length);
  let total = 0;
  lengths.forEach((length, d) => {
    starts[d] = total;
    total += length;
  });
  if (total !== index.positions) throw new MalformedStoreError(documentsPath, `document lengths add up to ${total} positions, the index says ${index.positions}`);
  for (const chunk of index.chunks) {
    const path = join(dir, chunk.file);
    if (options.verify === "sizes") {
      const handle = await openSized(path, chunk.bytes);
      await handle.close();
    } else checkSha(path, await readWhole(path, chunk.bytes), chunk.sha256);
  }
  return new TeacherStore(dir, index, lengths, starts);
}

function checkSha(path: string, bytes: Uint8Array, expected: string): void {
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== expected) throw new ChecksumMismatchError(path, expected, actual);
}

async function openSized(path: string, bytes: number): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw new MalformedStoreError(path, `missing store file (${(error as Error).message})`, { cause: error });
  }
  const { size } = await handle.stat();
  if (size !== bytes) {
    await handle.close();
    throw new TruncatedChunkError(path, bytes, size);
  }
  return handle;
}

async function readWhole(path: string, bytes: number): Promise<Uint8Array> {
  const handle = await openSized(path, bytes);
  try {
    const data = new Uint8Array(bytes);
    await readFully(handle, data, 0, path);
    return data;
  } finally {
    await handle.close();
  }
}

async function readFully(handle: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  for (let filled = 0; filled < into.length; ) {
    const { bytesRead } = await handle.read(into, filled, into.length - filled, position + filled);
    if (bytesRead === 0) throw new TruncatedChunkError(path, position + into.length, position + filled);
    filled += bytesRead;
  }
}

/** A teacher store on disk: sparse teacher distributions by (document, position). */
export class TeacherStore {
  private readonly handles = new Map<number, OpenChunk>();

  constructor(
    readonly dir: string,
    readonly index: TeacherStoreIndex,
    private readonly lengths: Uint32Array,
    private readonly starts: Float64Array,
  ) {}

  get k(): number {
    return this.index.k;
  }

  get documentCount(): number {
    return this.lengths.length;
  }

  documentLengthOf(document: number): number {
    if (!Number.isInteger(document) || document < 0 || document >= this.lengths.length) {
      throw new InvalidArgumentError("document", `expected a document number in [0, ${this.lengths.length}), got ${document}`);
    }
    return this.lengths[document]!;
  }

  /** Corpus position of a document's first token. */
  documentStart(document: number): number {
    this.documentLengthOf(document);
    return this.starts[document]!;
  }

  /** Positions [from, from + count) of a document: probabilities, 0 in unused slots. */
  async positions(document: number, from: number, count: number): Promise<StorePositions> {
    const length = this.documentLengthOf(document);
    if (!(Number.isInteger(from) && Number.isInteger(count) && from >= 0 && count >= 0 && from + count <= length)) {
      throw new InvalidArgumentError("range", `[${from}, ${from + count}) is outside document ${document} of ${length} positions`);
    }
    const { tokens, ids, logprobs, residual } = await this.readRange(this.starts[document]! + from, count);
    const probs = new Float32Array(logprobs.length);
    for (let i = 0; i < probs.length; i++) probs[i] = Math.exp(logprobs[i]!);
    return { tokens, ids, probs, residual };
  }

  /** Corpus positions [first, first + count) as stored: log-probs, -Infinity in unused slots. */
  async readRange(first: number, count: number): Promise<DecodedPositions> {
    const { k, chunkPositions: C } = this.index;
    if (!(Number.isSafeInteger(first) && Number.isSafeInteger(count) && first >= 0 && count >= 0 && first + count <= this.index.positions)) {
      throw new InvalidArgumentError("range", `[${first}, ${first + count}) is outside the store's ${this.index.positions} positions`);
    }
    const out: DecodedPositions = { tokens: new Int32Array(count), ids: new Int32Array(count * k), logprobs: new Float32Array(count * k), residual: new Float32Array(count) };
    for (let done = 0; done < count; ) {
      const position = first + done;
      const chunk = Math.floor(position / C);
      const within = position - chunk * C;
      const take = Math.min(count - done, C - within);
      const part = await this.readChunk(chunk, within, take);
      out.tokens.set(part.tokens, done);
      out.ids.set(part.ids, done * k);
      out.logprobs.set(part.logprobs, done * k);
      out.residual.set(part.residual, done);
      done += take;
    }
    return out;
  }

  private async readChunk(chunk: number, within: number, count: number): Promise<DecodedPositions> {
    const entry = this.index.chunks[chunk]!;
    const path = join(this.dir, entry.file);
    const open = this.acquire(chunk);
    try {
      const handle = await open.handle;
      const { k } = this.index;
      const layout = chunkSections(this.index, entry.positions);
      const id = this.index.idDtype === "uint16" ? 2 : 4;
      const value = this.index.valueDtype === "float16" ? 2 : 4;
      const section = async (offset: number, width: number) => {
        const bytes = new Uint8Array(count * width);
        await readFully(handle, bytes, offset + within * width, path);
        return bytes;
      };
      return decodeSections(this.index, count, {
        tokens: await section(layout.tokens, id),
        ids: await section(layout.ids, id * k),
        values: await section(layout.values, value * k),
        residual: await section(layout.residual, 4),
      });
    } finally {
      open.users--;
    }
  }

  /** A chunk's open file, most recently used last; files no read is using are closed beyond OPEN_CHUNKS. */
  private acquire(chunk: number): OpenChunk {
    let entry = this.handles.get(chunk);
    if (entry === undefined) {
      const file = this.index.chunks[chunk]!;
      entry = { handle: openSized(join(this.dir, file.file), file.bytes), users: 0 };
      entry.handle.catch(() => this.handles.delete(chunk));
    } else this.handles.delete(chunk);
    this.handles.set(chunk, entry);
    entry.users++;
    for (const [other, open] of this.handles) {
      if (this.handles.size <= OPEN_CHUNKS) break;
      if (open.users > 0) continue;
      this.handles.delete(other);
      void open.handle.then((h) => h.close()).catch(() => undefined);
    }
    return entry;
  }

  async close(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map((open) => open.handle.then((h) => h.close()).catch(() => undefined)));
  }
}
