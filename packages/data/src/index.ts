// @gemma-ts/data: training data for gemma-ts. Documents from text, JSONL and Parquet files are
// tokenized once into token shards on disk (readDocuments -> writeTokenShards), read back by range
// (openTokenShards), and packed into batches that are a pure function of (seed, step), with a
// held-out split by document (BatchSource, batchSources). Node only: it reads and writes files.
export { isChatDocument, type ChatDocument, type Document, type TextDocument } from "./documents.js";
export { DOCUMENT_EXTENSIONS, readDocuments, type ReadDocumentsOptions } from "./sources/read-documents.js";
export type { TextUnit } from "./sources/text-file.js";
export { encodeDocument, type EncodedDocument } from "./encode-document.js";
export { tokenizerFingerprint } from "./fingerprint.js";
export { writeTokenShards, type DocumentSource, type WriteTokenShardsOptions, type WriteTokenShardsProgress } from "./write-shards.js";
export { openTokenShards, TokenShards, type OpenTokenShardsOptions } from "./token-shards.js";
export { INDEX_FILE, type ShardEntry, type ShardSource, type TokenDtype, type TokenShardIndex } from "./shard-format.js";
export { splitDocuments, type DocumentSplit, type HeldOutSplit } from "./split.js";
export { BatchSource, batchSources, type Batch, type BatchSegment, type BatchShape, type BatchSourceOptions, type BatchSourcesOptions, type Packing } from "./batch-source.js";
export {
  DataError,
  InvalidArgumentError,
  MalformedFileError,
  MalformedRecordError,
  MalformedShardsError,
  MissingColumnError,
  TokenizerMismatchError,
  TruncatedShardError,
  UnsupportedFormatError,
  type DataErrorCode,
} from "./errors.js";
export { SeededRandom } from "./random.js";
