// Typed errors of @gemma-ts/distill. Each has a stable `code` (the CLI maps them to exit codes and
// messages without parsing text) and a message naming the file, field, chunk or byte offset at
// fault, so a damaged store or a mismatched teacher is found without reading the code.

export type DistillErrorCode =
  | "INVALID_ARGUMENT"
  | "VOCABULARY_MISMATCH"
  | "MALFORMED_STORE"
  | "TRUNCATED_CHUNK"
  | "CHECKSUM_MISMATCH"
  | "STORE_MISMATCH"
  | "BATCH_MISALIGNED"
  | "TEACHER_REQUEST_FAILED"
  | "TEACHER_RESPONSE_INVALID";

export class DistillError extends Error {
  readonly code: DistillErrorCode;

  constructor(code: DistillErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DistillError";
    this.code = code;
  }
}

export class InvalidArgumentError extends DistillError {
  constructor(
    readonly argument: string,
    problem: string,
  ) {
    super("INVALID_ARGUMENT", `invalid argument '${argument}': ${problem}`);
    this.name = "InvalidArgumentError";
  }
}

/**
 * A teacher whose vocabulary is not the student's (the shards' tokenizer): its ids would name
 * other tokens, so its distributions would be silently misaligned.
 */
export class VocabularyMismatchError extends DistillError {
  constructor(
    /** "vocabSize" or "tokenizer" (the fingerprint over every token string). */
    readonly field: "vocabSize" | "tokenizer",
    readonly teacher: string | number,
    readonly student: string | number,
  ) {
    super("VOCABULARY_MISMATCH", `the teacher's ${field} is ${teacher}, the student's (the shards' tokenizer) is ${student}: a teacher must share the student's vocabulary`);
    this.name = "VocabularyMismatchError";
  }
}

/** A store folder whose index.json is missing, unparsable or inconsistent with itself. */
export class MalformedStoreError extends DistillError {
  constructor(
    readonly path: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super("MALFORMED_STORE", `${path}: ${problem}`, options);
    this.name = "MalformedStoreError";
  }
}

/** A chunk file shorter or longer than the index says: an interrupted copy or a disk problem. */
export class TruncatedChunkError extends DistillError {
  constructor(
    readonly path: string,
    readonly expectedBytes: number,
    readonly actualBytes: number,
  ) {
    super("TRUNCATED_CHUNK", `${path}: ${actualBytes} bytes on disk, the index says ${expectedBytes}`);
    this.name = "TruncatedChunkError";
  }
}

/** A chunk file of the right size whose bytes are not the ones the index's sha256 names. */
export class ChecksumMismatchError extends DistillError {
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super("CHECKSUM_MISMATCH", `${path}: sha256 ${actual}, the index says ${expected}`);
    this.name = "ChecksumMismatchError";
  }
}

/** A store opened with shards (or for a student) it was not written for. */
export class StoreMismatchError extends DistillError {
  constructor(
    readonly path: string,
    readonly field: string,
    readonly expected: string | number,
    readonly actual: string | number,
  ) {
    super("STORE_MISMATCH", `${path}: the store was written for ${field} ${expected}, got ${actual}`);
    this.name = "StoreMismatchError";
  }
}

/** A batch whose tokens are not where the store's documents put them (a different data order). */
export class BatchMisalignedError extends DistillError {
  constructor(
    readonly step: number,
    readonly row: number,
    readonly column: number,
    problem: string,
  ) {
    super("BATCH_MISALIGNED", `batch ${step}, row ${row}, position ${column}: ${problem}`);
    this.name = "BatchMisalignedError";
  }
}

/**
 * A teacher endpoint that did not answer: a refusal (a 4xx other than 408 and 429, with the
 * server's message), or a 429, 5xx, timeout or network error still failing after the bounded
 * attempts. A store run stopped by it keeps its complete chunks; rerun it to continue.
 */
export class TeacherRequestError extends DistillError {
  constructor(
    readonly url: string,
    /** The last HTTP status, or undefined for a network error or a timeout. */
    readonly status: number | undefined,
    readonly attempts: number,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super("TEACHER_REQUEST_FAILED", `${url}: ${problem} (${attempts} attempt${attempts === 1 ? "" : "s"})`, options);
    this.name = "TeacherRequestError";
  }
}

/**
 * A teacher endpoint's 401: it refused the API key sent, or wants one and none was sent. A
 * TeacherRequestError (same code, status 401), never retried: another try sends the same key. The
 * message never holds the key (the server's own message is shown with the key masked).
 */
export class TeacherAuthError extends TeacherRequestError {
  constructor(
    url: string,
    /** Whether a key was sent (refused) or not (missing). */
    readonly keySent: boolean,
    serverMessage: string,
    attempts = 1,
  ) {
    super(url, 401, attempts, `HTTP 401: ${keySent ? "the endpoint refused the API key" : "the endpoint requires an API key and none was sent"} (server: ${serverMessage})`);
    this.name = "TeacherAuthError";
  }
}

/** A teacher endpoint's answer that lacks what was asked, or holds what cannot be mapped to ids. */
export class TeacherResponseError extends DistillError {
  constructor(
    readonly url: string,
    /** Where in the response: "choices[2].prompt_logprobs[17]". */
    readonly field: string,
    problem: string,
  ) {
    super("TEACHER_RESPONSE_INVALID", `${url}: response field '${field}': ${problem}`);
    this.name = "TeacherResponseError";
  }
}
