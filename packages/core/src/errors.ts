// Typed errors of @gemma-ts/core. Each has a stable `code` and a message naming the tensor,
// field or file at fault, so apps can map them to exit codes or HTTP statuses and users can act.

export type CoreErrorCode =
  | "MALFORMED_CHECKPOINT"
  | "UNSUPPORTED_DTYPE"
  | "CONFIG_MISMATCH"
  | "INVALID_CONFIG"
  | "INVALID_ARGUMENT"
  | "SHAPE_MISMATCH"
  | "BACKEND_FAILED"
  | "LIMIT_EXCEEDED";

export class CoreError extends Error {
  readonly code: CoreErrorCode;

  constructor(code: CoreErrorCode, message: string) {
    super(message);
    this.name = "CoreError";
    this.code = code;
  }
}

/** A checkpoint file that is truncated or whose header lies (offsets, shapes, sizes). */
export class MalformedCheckpointError extends CoreError {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super("MALFORMED_CHECKPOINT", `malformed checkpoint ${file}: ${problem}`);
    this.name = "MalformedCheckpointError";
  }
}

export class UnsupportedDTypeError extends CoreError {
  constructor(
    readonly dtype: string,
    where: string,
  ) {
    super("UNSUPPORTED_DTYPE", `unsupported dtype '${dtype}' for ${where}`);
    this.name = "UnsupportedDTypeError";
  }
}

/** The config and the tensors disagree: a tensor missing, extra, or of the wrong shape. */
export class ConfigMismatchError extends CoreError {
  constructor(
    readonly tensor: string,
    problem: string,
  ) {
    super("CONFIG_MISMATCH", `tensor '${tensor}' does not match the config: ${problem}`);
    this.name = "ConfigMismatchError";
  }
}

export class InvalidConfigError extends CoreError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super("INVALID_CONFIG", `invalid config field '${field}': ${problem}`);
    this.name = "InvalidConfigError";
  }
}

export class InvalidArgumentError extends CoreError {
  constructor(argument: string, problem: string) {
    super("INVALID_ARGUMENT", `invalid argument '${argument}': ${problem}`);
    this.name = "InvalidArgumentError";
  }
}

export class ShapeMismatchError extends CoreError {
  constructor(where: string, problem: string) {
    super("SHAPE_MISMATCH", `shape mismatch in ${where}: ${problem}`);
    this.name = "ShapeMismatchError";
  }
}

/**
 * A size read from a file (a layer count, a dimension, a string or array length, a nesting depth)
 * is beyond what any real checkpoint holds; refused before anything is allocated for it. The limits
 * and the reason for each are LOADER_LIMITS.
 */
export class LimitExceededError extends CoreError {
  constructor(
    readonly field: string,
    readonly value: number | bigint,
    readonly limit: number,
    where: string,
    reason?: string,
  ) {
    super("LIMIT_EXCEEDED", `${field} is ${value} in ${where}, above the limit of ${limit}${reason === undefined ? "" : ` (${reason})`}`);
    this.name = "LimitExceededError";
  }
}

/** The backend could not compile or run a graph (onnxruntime's own message is kept). */
export class BackendError extends CoreError {
  constructor(
    readonly backend: string,
    action: string,
    cause: unknown,
  ) {
    super("BACKEND_FAILED", `${backend} could not ${action}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "BackendError";
  }
}
