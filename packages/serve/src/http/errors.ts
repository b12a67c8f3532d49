// The server's errors, each carrying its HTTP status and OpenAI's error fields, so every failure
// reaches the client as `{ "error": { message, type, param, code } }`, the shape OpenAI's SDKs
// parse into their typed exceptions. Handlers throw these; server.ts turns them into replies,
// and the engine's (and the prompt builders') typed errors into these first (fromServeError).
import { STATUS_CODES } from "node:http";
import { ContextLengthExceededError, EngineClosedError, EngineOverloadedError, InvalidRequestError, UnsupportedSchemaError } from "../errors.js";

/** OpenAI's values: client mistakes (401 and 404 included) are invalid_request_error; 429 is "requests". */
export type ApiErrorType = "invalid_request_error" | "requests" | "server_error";

export interface OpenAiErrorBody {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | null };
}

export class ApiError extends Error {
  /** Headers the response carries besides the JSON's (Allow on a 405). */
  headers: Record<string, string> = {};

  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  toJSON(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /**
   * The whole HTTP/1.1 response, for a socket no request object answers on (the HTTP parser
   * failed): the connection cannot carry another request, so it says `Connection: close`.
   */
  toRawResponse(): string {
    const body = JSON.stringify(this.toJSON());
    const headers = [`content-type: application/json; charset=utf-8`, `content-length: ${Buffer.byteLength(body)}`, "connection: close"];
    return `HTTP/1.1 ${this.status} ${STATUS_CODES[this.status] ?? "Error"}\r\n${headers.join("\r\n")}\r\n\r\n${body}`;
  }
}

/** 400: the request is malformed or asks for something this server cannot do. */
export function invalidRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(400, message, "invalid_request_error", code, param);
}

/** 404 with OpenAI's wording, which clients match on. */
export function modelNotFound(model: string): ApiError {
  return new ApiError(404, `The model \`${model}\` does not exist or you do not have access to it.`, "invalid_request_error", "model_not_found", "model");
}

export function invalidApiKey(given: boolean): ApiError {
  const message = given ? "Incorrect API key provided." : "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.";
  return new ApiError(401, message, "invalid_request_error", "invalid_api_key");
}

export function tooManyRequests(limit: number | undefined, detail?: string): ApiError {
  const message = detail ?? `The server is handling its maximum of ${limit} concurrent requests`;
  return new ApiError(429, `${message}; retry shortly.`, "requests", "rate_limit_exceeded");
}

export function bodyTooLarge(limit: number): ApiError {
  return new ApiError(413, `The request body exceeds the limit of ${limit} bytes.`, "invalid_request_error", "request_too_large");
}

/** 404 for a URL no route serves. */
export function unknownUrl(method: string, url: string): ApiError {
  return new ApiError(404, `Unknown request URL: ${method} ${url}.`, "invalid_request_error", "unknown_url");
}

/** 405 for a URL served under other methods, listed in the Allow header. */
export function methodNotAllowed(method: string, url: string, allowed: readonly string[]): ApiError {
  const error = new ApiError(405, `Method ${method} is not allowed for ${url}; use ${allowed.join(" or ")}.`, "invalid_request_error", "method_not_allowed");
  error.headers = { allow: allowed.join(", ") };
  return error;
}

export function unsupportedMediaType(): ApiError {
  return new ApiError(415, "Content-Type must be application/json.", "invalid_request_error", "unsupported_media_type");
}

export function shuttingDown(): ApiError {
  return new ApiError(503, "The server is shutting down.", "server_error", "server_shutting_down");
}

export function serverError(message: string, code: string | null = null): ApiError {
  return new ApiError(500, message, "server_error", code);
}

/** The ApiError a @gemma-ts/serve error answers with; undefined for any other error. */
export function fromServeError(error: unknown): ApiError | undefined {
  if (error instanceof InvalidRequestError) return invalidRequest(error.message, openAiParam(error.field));
  if (error instanceof ContextLengthExceededError) return invalidRequest(error.message, null, "context_length_exceeded");
  if (error instanceof UnsupportedSchemaError) return invalidRequest(error.message, "response_format", "unsupported_schema");
  if (error instanceof EngineOverloadedError) return tooManyRequests(undefined, error.message);
  if (error instanceof EngineClosedError) return shuttingDown();
  return undefined;
}

/** The engine's field names (maxTokens, sampling.topP ...) as the request's (max_tokens, top_p ...). */
function openAiParam(field: string): string {
  const name = field.replace(/^sampling\./, "").replace(/^responseFormat(\..*)?$/, "response_format").replace(/^promptIds.*$/, "prompt");
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** Whether an error is the result of an AbortSignal firing (the client left, or shutdown). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || (error as { code?: unknown }).code === "ABORT_ERR");
}

/** The server or a model folder is set up wrongly: no models, a folder without tokenizer.json ... */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigurationError";
  }
}
