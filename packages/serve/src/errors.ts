// Typed errors of @gemma-ts/serve. Each has a stable `code`, so the HTTP layer (http/errors.ts) can
// map a rejected request to a status (400 for INVALID_REQUEST, CONTEXT_LENGTH_EXCEEDED,
// UNSUPPORTED_SCHEMA; 429 for OVERLOADED; 503 for ENGINE_CLOSED) without parsing messages.

export type ServeErrorCode =
  | "INVALID_OPTIONS"
  | "INVALID_REQUEST"
  | "CONTEXT_LENGTH_EXCEEDED"
  | "UNSUPPORTED_SCHEMA"
  | "ABORTED"
  | "OVERLOADED"
  | "ENGINE_CLOSED"
  | "ENGINE_FAILURE";

export class ServeError extends Error {
  readonly code: ServeErrorCode;

  constructor(code: ServeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ServeError";
    this.code = code;
  }
}

/** An EngineOptions field is out of range. */
export class InvalidOptionsError extends ServeError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super("INVALID_OPTIONS", `invalid engine option '${field}': ${problem}`);
    this.name = "InvalidOptionsError";
  }
}

/** A request field is missing, out of range or of the wrong type. */
export class InvalidRequestError extends ServeError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super("INVALID_REQUEST", `invalid request field '${field}': ${problem}`);
    this.name = "InvalidRequestError";
  }
}

/** The prompt leaves no room for a single generated token within the engine's context. */
export class ContextLengthExceededError extends ServeError {
  constructor(
    readonly promptTokens: number,
    readonly contextLength: number,
  ) {
    super("CONTEXT_LENGTH_EXCEEDED", `the prompt has ${promptTokens} tokens; the context holds ${contextLength}, so at most ${contextLength - 1} fit with room to generate`);
    this.name = "ContextLengthExceededError";
  }
}

/** A JSON Schema uses a keyword the constrained decoder cannot enforce, or is malformed. */
export class UnsupportedSchemaError extends ServeError {
  constructor(
    /** JSON Pointer to the offending part of the schema, "" for the root. */
    readonly path: string,
    problem: string,
  ) {
    super("UNSUPPORTED_SCHEMA", `unsupported JSON schema at '${path || "/"}': ${problem}`);
    this.name = "UnsupportedSchemaError";
  }
}

/** The request's signal fired, or its consumer stopped reading the chunks. */
export class RequestAbortedError extends ServeError {
  constructor(reason?: unknown) {
    super("ABORTED", "the request was aborted", { cause: reason });
    this.name = "RequestAbortedError";
  }
}

/** The queue of waiting requests is full (EngineOptions.maxQueueSize). */
export class EngineOverloadedError extends ServeError {
  constructor(maxQueueSize: number) {
    super("OVERLOADED", `${maxQueueSize} requests are already waiting for a batch slot`);
    this.name = "EngineOverloadedError";
  }
}

/** The engine was closed before or while the request ran. */
export class EngineClosedError extends ServeError {
  constructor() {
    super("ENGINE_CLOSED", "the engine is closed");
    this.name = "EngineClosedError";
  }
}

/** The model failed while running a batch; `cause` holds the backend's error. */
export class EngineFailureError extends ServeError {
  constructor(cause: unknown) {
    super("ENGINE_FAILURE", `the model failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "EngineFailureError";
  }
}
