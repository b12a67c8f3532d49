// Typed errors of @gemma-ts/data. Each has a stable `code` (the CLI maps them to exit codes and
// messages without parsing text) and a message naming the file and the line, row, field or byte
// offset at fault, so a bad record in a corpus of millions can be found and fixed.

export type DataErrorCode =
  | "UNSUPPORTED_FORMAT"
  | "MISSING_COLUMN"
  | "MALFORMED_RECORD"
  | "MALFORMED_FILE"
  | "MALFORMED_SHARDS"
  | "TRUNCATED_SHARD"
  | "TOKENIZER_MISMATCH"
  | "INVALID_ARGUMENT";

export class DataError extends Error {
  readonly code: DataErrorCode;

  constructor(code: DataErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DataError";
    this.code = code;
  }
}

/** A path whose extension names no format this package reads. */
export class UnsupportedFormatError extends DataError {
  constructor(
    readonly path: string,
    supported: readonly string[],
  ) {
    super("UNSUPPORTED_FORMAT", `${path}: unknown file type (expected one of ${supported.join(", ")})`);
    this.name = "UnsupportedFormatError";
  }
}

/** A Parquet file with neither a `messages` nor a `text` column. */
export class MissingColumnError extends DataError {
  constructor(
    readonly path: string,
    readonly wanted: readonly string[],
    readonly found: readonly string[],
  ) {
    super("MISSING_COLUMN", `${path}: no column ${wanted.map((name) => `'${name}'`).join(" or ")} (columns: ${found.join(", ") || "none"})`);
    this.name = "MissingColumnError";
  }
}

/** One record (a JSONL line, a Parquet row) is not a document: bad JSON, a wrong type, a bad chat. */
export class MalformedRecordError extends DataError {
  constructor(
    readonly path: string,
    /** Where in the file: `line 12` (1-based) or `row 5` (0-based, as Parquet tools count). */
    readonly location: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super("MALFORMED_RECORD", `${path}, ${location}: ${problem}`, options);
    this.name = "MalformedRecordError";
  }
}

/** A whole input file cannot be read as what its extension says (e.g. a truncated Parquet file). */
export class MalformedFileError extends DataError {
  constructor(
    readonly path: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super("MALFORMED_FILE", `${path}: ${problem}`, options);
    this.name = "MalformedFileError";
  }
}

/** A shard folder whose index.json is missing, unparsable or inconsistent with itself or its files. */
export class MalformedShardsError extends DataError {
  constructor(
    readonly path: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super("MALFORMED_SHARDS", `${path}: ${problem}`, options);
    this.name = "MalformedShardsError";
  }
}

/** A shard file shorter (or longer) than its index says: an interrupted copy or a disk problem. */
export class TruncatedShardError extends DataError {
  constructor(
    readonly path: string,
    readonly expectedBytes: number,
    readonly actualBytes: number,
  ) {
    super("TRUNCATED_SHARD", `${path}: ${actualBytes} bytes on disk, the index says ${expectedBytes}`);
    this.name = "TruncatedShardError";
  }
}

/** Shards written with one tokenizer opened for training with another. */
export class TokenizerMismatchError extends DataError {
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super("TOKENIZER_MISMATCH", `${path}: the shards were written with tokenizer ${expected}, this tokenizer is ${actual}`);
    this.name = "TokenizerMismatchError";
  }
}

export class InvalidArgumentError extends DataError {
  constructor(
    readonly argument: string,
    problem: string,
  ) {
    super("INVALID_ARGUMENT", `invalid argument '${argument}': ${problem}`);
    this.name = "InvalidArgumentError";
  }
}
