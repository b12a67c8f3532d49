// Reading shards back. Opening reads index.json and the small per-document lengths files, checks
// every file's size against the index (a TruncatedShardError names the file), and keeps one file
// handle per shard; tokens and masks are then read by range on demand, never the whole corpus.
import { open, readFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { InvalidArgumentError, MalformedShardsError, TokenizerMismatchError, TruncatedShardError } from "./errors.js";
import { tokenizerFingerprint } from "./fingerprint.js";
import { bytesPerToken, fromLittleEndian, INDEX_FILE, parseIndex, type TokenShardIndex } from "./shard-format.js";

export interface OpenTokenShardsOptions {
  /** When given, the shards must have been written with this tokenizer (TokenizerMismatchError). */
  tokenizer?: Tokenizer;
}

interface OpenShardFiles {
  tokens: FileHandle;
  tokensPath: string;
  mask: FileHandle | undefined;
  maskPath: string | undefined;
}

export async function openTokenShards(dir: string, options: OpenTokenShardsOptions = {}): Promise<TokenShards> {
  const indexPath = join(dir, INDEX_FILE);
  let text: string;
  try {
    text = await readFile(indexPath, "utf8");
  } catch (error) {
    throw new MalformedShardsError(indexPath, `cannot read the index (${(error as Error).message}); is this a complete shard folder?`, { cause: error });
  }
  const index = parseIndex(indexPath, text);
  if (options.tokenizer) {
    const actual = tokenizerFingerprint(options.tokenizer);
    if (actual !== index.tokenizer.fingerprint) throw new TokenizerMismatchError(indexPath, index.tokenizer.fingerprint, actual);
  }
  const width = bytesPerToken(index.dtype);
  const documentShard = new Uint32Array(index.documents);
  const documentStart = new Float64Array(index.documents);
  const documentLength = new Uint32Array(index.documents);
  const files: OpenShardFiles[] = [];
  try {
    let document = 0;
    for (const shard of index.shards) {
      const lengthsPath = join(dir, shard.lengths);
      const lengthBytes = await readExactly(lengthsPath, shard.documents * 4);
      fromLittleEndian(lengthBytes, 4);
      const lengths = new Uint32Array(lengthBytes.buffer, lengthBytes.byteOffset, shard.documents);
      let start = 0;
      for (const length of lengths) {
        documentShard[document] = files.length;
        documentStart[document] = start;
        documentLength[document] = length;
        start += length;
        document++;
      }
      if (start !== shard.tokenCount) throw new MalformedShardsError(lengthsPath, `document lengths add up to ${start} tokens, the index says ${shard.tokenCount}`);
      const tokensPath = join(dir, shard.tokens);
      const tokens = await openSized(tokensPath, shard.tokenCount * width);
      const maskPath = shard.mask === undefined ? undefined : join(dir, shard.mask);
      files.push({ tokens, tokensPath, mask: undefined, maskPath });
      if (maskPath !== undefined) files[files.length - 1]!.mask = await openSized(maskPath, shard.tokenCount);
    }
  } catch (error) {
    await Promise.all(files.flatMap((file) => [file.tokens.close(), file.mask?.close()]));
    throw error;
  }
  return new TokenShards(dir, index, files, documentShard, documentStart, documentLength);
}

async function readExactly(path: string, bytes: number): Promise<Uint8Array> {
  const handle = await openSized(path, bytes);
  try {
    const data = new Uint8Array(bytes);
    await readFully(handle, data, 0, path);
    return data;
  } finally {
    await handle.close();
  }
}

async function openSized(path: string, bytes: number): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw new MalformedShardsError(path, `missing shard file (${(error as Error).message})`, { cause: error });
  }
  const { size } = await handle.stat();
  if (size !== bytes) {
    await handle.close();
    throw new TruncatedShardError(path, bytes, size);
  }
  return handle;
}

async function readFully(handle: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  for (let filled = 0; filled < into.length; ) {
    const { bytesRead } = await handle.read(into, filled, into.length - filled, position + filled);
    if (bytesRead === 0) throw new TruncatedShardError(path, position + into.length, position + filled);
    filled += bytesRead;
  }
}

/** A tokenized corpus on disk: documents by number, read by range. */
export class TokenShards {
  /** Id of <bos>, the first token of every document. */
  readonly bos: number;
  readonly eos: number;
  /** Id written into padding rows (<pad>, or <eos> for a vocabulary without one). */
  readonly pad: number;
  private readonly width: number;

  constructor(
    readonly dir: string,
    readonly index: TokenShardIndex,
    private readonly files: readonly OpenShardFiles[],
    private readonly documentShard: Uint32Array,
    private readonly documentStart: Float64Array,
    private readonly documentLength: Uint32Array,
  ) {
    this.bos = index.tokenizer.bos;
    this.eos = index.tokenizer.eos;
    this.pad = index.tokenizer.pad ?? index.tokenizer.eos;
    this.width = bytesPerToken(index.dtype);
  }

  get documentCount(): number {
    return this.index.documents;
  }

  get tokenCount(): number {
    return this.index.tokens;
  }

  documentLengthOf(document: number): number {
    this.checkDocument(document);
    return this.documentLength[document]!;
  }

  /** A whole document's ids and mask (mask[i] = 1: token i is a training target). */
  async readDocument(document: number): Promise<{ ids: Int32Array; mask: Uint8Array }> {
    const length = this.documentLengthOf(document);
    const ids = new Int32Array(length);
    const mask = new Uint8Array(length);
    await this.readInto(document, 0, length, ids, mask, 0);
    return { ids, mask };
  }

  /**
   * Reads tokens [from, from + count) of a document into ids and mask at `at`. Ids at or beyond
   * the index's vocabSize are a MalformedShardsError: a shard that is corrupt, not just short.
   */
  async readInto(document: number, from: number, count: number, ids: Int32Array, mask: Uint8Array, at: number): Promise<void> {
    const length = this.documentLengthOf(document);
    if (!(from >= 0 && count >= 0 && from + count <= length)) {
      throw new InvalidArgumentError("range", `[${from}, ${from + count}) is outside document ${document} of ${length} tokens`);
    }
    if (count === 0) return;
    const file = this.files[this.documentShard[document]!]!;
    const first = this.documentStart[document]! + from;
    const bytes = new Uint8Array(count * this.width);
    await readFully(file.tokens, bytes, first * this.width, file.tokensPath);
    fromLittleEndian(bytes, this.width);
    const words = this.width === 2 ? new Uint16Array(bytes.buffer) : new Uint32Array(bytes.buffer);
    const vocabSize = this.index.vocabSize;
    for (let i = 0; i < count; i++) {
      const id = words[i]!;
      if (id >= vocabSize) throw new MalformedShardsError(file.tokensPath, `token ${first + i} is id ${id}, beyond the vocabulary of ${vocabSize}`);
      ids[at + i] = id;
    }
    if (file.mask) {
      await readFully(file.mask, mask.subarray(at, at + count), first, file.maskPath!);
    } else {
      // A text document: every token is a target but its leading <bos> (see encode-document.ts).
      mask.fill(1, at, at + count);
      if (from === 0) mask[at] = 0;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.files.flatMap((file) => [file.tokens.close(), file.mask?.close()]));
  }

  private checkDocument(document: number): void {
    if (!Number.isInteger(document) || document < 0 || document >= this.index.documents) {
      throw new InvalidArgumentError("document", `expected a document number in [0, ${this.index.documents}), got ${document}`);
    }
  }
}
