// Tokenize once: documents from files (or in-memory sources) go through encodeDocument into
// shards on disk, streamed, so the corpus never has to fit in memory. A shard closes when the next
// document would take it past `shardTokens`; a document never spans shards. Every file is written
// atomically, index.json last: a folder with an index.json is a complete shard set, and the old
// index is removed first, so a crash mid-write can never pair an old index with new shards.
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { ChatTemplateError, type Tokenizer } from "@gemma-ts/tokenizer";
import { AtomicFileWriter, atomicWriteText, syncFolder } from "./atomic-file.js";
import { documentFromRecord, isChatDocument, type Document } from "./documents.js";
import { encodeDocument, requireBosEos } from "./encode-document.js";
import { InvalidArgumentError, MalformedRecordError } from "./errors.js";
import { tokenizerFingerprint } from "./fingerprint.js";
import {
  dtypeFor,
  encodeIds,
  encodeUint32,
  INDEX_FILE,
  SHARD_FILE_PATTERN,
  SHARD_FORMAT,
  SHARD_FORMAT_VERSION,
  shardFileNames,
  type ShardEntry,
  type ShardSource,
  type TokenDtype,
  type TokenShardIndex,
} from "./shard-format.js";
import { readDocuments } from "./sources/read-documents.js";
import type { TextUnit } from "./sources/text-file.js";

/** Documents that are not in a file: a bundled corpus, a generator. */
export interface DocumentSource {
  name: string;
  documents: AsyncIterable<Document> | Iterable<Document>;
}

export interface WriteTokenShardsProgress {
  /** The input being read. */
  source: string;
  documents: number;
  tokens: number;
}

export interface WriteTokenShardsOptions {
  /** Files (.txt, .jsonl, .parquet ...; see readDocuments) and sources, written in this order. */
  inputs: readonly (string | DocumentSource)[];
  tokenizer: Tokenizer;
  outDir: string;
  /** What a document is in a plain text file. Default "file" (see readDocuments). */
  textUnit?: TextUnit;
  /** Tokens per shard before the next one starts. Default 100,000,000. */
  shardTokens?: number;
  /** Called after each document. */
  onProgress?: (progress: WriteTokenShardsProgress) => void;
}

const DEFAULT_SHARD_TOKENS = 100_000_000;
const MAX_SHARD_TOKENS = 0xffffffff;

export async function writeTokenShards(options: WriteTokenShardsOptions): Promise<TokenShardIndex> {
  const shardTokens = options.shardTokens ?? DEFAULT_SHARD_TOKENS;
  if (!Number.isSafeInteger(shardTokens) || shardTokens < 1 || shardTokens > MAX_SHARD_TOKENS) {
    throw new InvalidArgumentError("shardTokens", `expected an integer in [1, ${MAX_SHARD_TOKENS}], got ${shardTokens}`);
  }
  if (options.inputs.length === 0) throw new InvalidArgumentError("inputs", "no inputs given");
  const { tokenizer, outDir } = options;
  const { bos, eos } = requireBosEos(tokenizer);
  const dtype = dtypeFor(tokenizer.vocabSize);
  await mkdir(outDir, { recursive: true });
  await rm(join(outDir, INDEX_FILE), { force: true });
  await syncFolder(outDir);

  const shards = new ShardSetWriter(outDir, dtype, shardTokens);
  const sources: ShardSource[] = [];
  let documents = 0;
  let tokens = 0;
  let chatDocuments = 0;
  try {
    for (const input of options.inputs) {
      const name = typeof input === "string" ? input : input.name;
      const source: ShardSource = { name, documents: 0, tokens: 0 };
      sources.push(source);
      const stream = typeof input === "string" ? readDocuments(input, { textUnit: options.textUnit ?? "file" }) : validated(input);
      for await (const document of stream) {
        const encoded = encodeChecked(tokenizer, document, name, source.documents);
        await shards.add(encoded.ids, encoded.mask, isChatDocument(document));
        source.documents++;
        source.tokens += encoded.ids.length;
        documents++;
        tokens += encoded.ids.length;
        if (isChatDocument(document)) chatDocuments++;
        options.onProgress?.({ source: name, documents, tokens });
      }
    }
    await shards.finish();
  } catch (error) {
    await shards.abort();
    throw error;
  }
  if (documents === 0) throw new InvalidArgumentError("inputs", "the inputs hold no documents");

  const index: TokenShardIndex = {
    format: SHARD_FORMAT,
    version: SHARD_FORMAT_VERSION,
    dtype,
    vocabSize: tokenizer.vocabSize,
    tokenizer: { fingerprint: tokenizerFingerprint(tokenizer), bos, eos, pad: tokenizer.special.pad ?? null },
    documents,
    tokens,
    chatDocuments,
    shards: shards.entries,
    sources,
  };
  await atomicWriteText(join(outDir, INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
  await removeStaleShards(outDir, index);
  await syncFolder(outDir);
  return index;
}

/** In-memory documents get the same checks as records read from files. */
async function* validated(source: DocumentSource): AsyncGenerator<Document> {
  let n = 0;
  for await (const document of source.documents) {
    const valid = documentFromRecord(document);
    if ("problem" in valid) throw new MalformedRecordError(source.name, `document ${n}`, valid.problem);
    n++;
    yield valid;
  }
}

function encodeChecked(tokenizer: Tokenizer, document: Document, source: string, n: number) {
  try {
    return encodeDocument(tokenizer, document);
  } catch (error) {
    if (error instanceof ChatTemplateError) throw new MalformedRecordError(source, `document ${n}`, error.message, { cause: error });
    throw error;
  }
}

/** Shards of an earlier, larger write in the same folder would otherwise linger. */
async function removeStaleShards(outDir: string, index: TokenShardIndex): Promise<void> {
  const live = new Set(index.shards.flatMap((shard) => [shard.tokens, shard.lengths, ...(shard.mask ? [shard.mask] : [])]));
  for (const name of await readdir(outDir)) {
    if (SHARD_FILE_PATTERN.test(name) && !live.has(name)) await rm(join(outDir, name), { force: true });
  }
}

interface OpenShard {
  tokens: AtomicFileWriter;
  lengths: AtomicFileWriter;
  mask: AtomicFileWriter;
  documents: number;
  tokenCount: number;
  hasChat: boolean;
}

class ShardSetWriter {
  readonly entries: ShardEntry[] = [];
  private current: OpenShard | undefined;

  constructor(
    private readonly outDir: string,
    private readonly dtype: TokenDtype,
    private readonly shardTokens: number,
  ) {}

  async add(ids: Int32Array, mask: Uint8Array, chat: boolean): Promise<void> {
    if (ids.length > MAX_SHARD_TOKENS) throw new InvalidArgumentError("document", `${ids.length} tokens, above the shard limit of ${MAX_SHARD_TOKENS}`);
    if (this.current && this.current.tokenCount + ids.length > this.shardTokens) await this.closeShard();
    const shard = this.current ?? (await this.openShard());
    await shard.tokens.write(encodeIds(ids, this.dtype));
    await shard.lengths.write(encodeUint32([ids.length]));
    // The mask is written for every shard and kept only for shards that hold a chat; for the
    // others it follows from the lengths (see encode-document.ts).
    await shard.mask.write(mask);
    shard.documents++;
    shard.tokenCount += ids.length;
    shard.hasChat ||= chat;
  }

  async finish(): Promise<void> {
    if (this.current) await this.closeShard();
  }

  async abort(): Promise<void> {
    const shard = this.current;
    this.current = undefined;
    if (shard) await Promise.all([shard.tokens.abort(), shard.lengths.abort(), shard.mask.abort()]);
  }

  private async openShard(): Promise<OpenShard> {
    const names = shardFileNames(this.entries.length);
    const create = (name: string) => AtomicFileWriter.create(join(this.outDir, name));
    this.current = { tokens: await create(names.tokens), lengths: await create(names.lengths), mask: await create(names.mask), documents: 0, tokenCount: 0, hasChat: false };
    return this.current;
  }

  private async closeShard(): Promise<void> {
    const shard = this.current!;
    const names = shardFileNames(this.entries.length);
    await shard.tokens.commit();
    await shard.lengths.commit();
    if (shard.hasChat) await shard.mask.commit();
    else await shard.mask.abort();
    this.current = undefined;
    this.entries.push({
      tokens: names.tokens,
      lengths: names.lengths,
      ...(shard.hasChat ? { mask: names.mask } : {}),
      documents: shard.documents,
      tokenCount: shard.tokenCount,
    });
  }
}
