// Typed errors for everything a caller can get wrong: a malformed or truncated file, a component
// this implementation does not support, or a bad argument. Each carries a stable `code` so apps can
// map them to exit codes or HTTP statuses, and a message that names the offending field or offset.

export type TokenizerErrorCode =
  | "MALFORMED_FILE"
  | "UNSUPPORTED_COMPONENT"
  | "INVALID_ARGUMENT"
  | "CHAT_TEMPLATE"
  | "LIMIT_EXCEEDED";

export class TokenizerError extends Error {
  readonly code: TokenizerErrorCode;

  constructor(code: TokenizerErrorCode, message: string) {
    super(message);
    this.name = "TokenizerError";
    this.code = code;
  }
}

/** A tokenizer.json or SentencePiece .model that is truncated, not what it claims, or inconsistent. */
export class MalformedTokenizerFileError extends TokenizerError {
  /** Where in the file the problem is: a JSON path such as `model.merges[12]`, or a byte offset. */
  readonly location: string;

  constructor(location: string, problem: string) {
    super("MALFORMED_FILE", `malformed tokenizer file at ${location}: ${problem}`);
    this.name = "MalformedTokenizerFileError";
    this.location = location;
  }
}

/** A well-formed file that asks for a component gemma-ts does not implement (e.g. a Unigram model). */
export class UnsupportedComponentError extends TokenizerError {
  readonly component: string;

  constructor(component: string, detail: string) {
    super("UNSUPPORTED_COMPONENT", `unsupported ${component}: ${detail}`);
    this.name = "UnsupportedComponentError";
    this.component = component;
  }
}

/**
 * A size in a file (a vocabulary size, an id, a length, a nesting depth), or the text a
 * normalizer or decoder would produce, is beyond the limits of TOKENIZER_LIMITS (limits.ts);
 * refused before anything is allocated for it.
 */
export class TokenizerLimitError extends TokenizerError {
  constructor(
    readonly field: string,
    readonly value: number,
    readonly limit: number,
    reason?: string,
  ) {
    super("LIMIT_EXCEEDED", `${field} is ${value}, above the limit of ${limit}${reason === undefined ? "" : ` (${reason})`}`);
    this.name = "TokenizerLimitError";
  }
}

export class InvalidArgumentError extends TokenizerError {
  constructor(argument: string, problem: string) {
    super("INVALID_ARGUMENT", `invalid argument '${argument}': ${problem}`);
    this.name = "InvalidArgumentError";
  }
}

/** The conversation breaks a rule of the chat template (as the Jinja template's raise_exception does). */
export class ChatTemplateError extends TokenizerError {
  constructor(problem: string) {
    super("CHAT_TEMPLATE", problem);
    this.name = "ChatTemplateError";
  }
}
