// The requests that fail before any route runs, answered in OpenAI's error shape like every other
// failure: what Node's HTTP parser rejects (oversized headers, malformed request lines, a request
// too slow to arrive), what Fastify's router rejects (a malformed percent-escape, an overlong URL
// segment), and what Node itself would answer with an empty body (no Host header, an Expect it
// cannot meet), which server.ts routes through its hooks instead so the API key is checked first.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError } from "fastify";
import { ApiError, invalidRequest } from "./errors.js";

/** The longest URL path segment (a model name in /v1/models/:model) the router accepts. */
export const MAX_URL_SEGMENT = 256;

/** How long a socket answered with a parse error may stay open for its client to read the answer and close. */
const LINGER_MS = 2000;

interface ConnectionError extends Error {
  code?: string;
}

/** The answer to a request Node's HTTP parser could not read. */
export function connectionErrorResponse(error: ConnectionError, maxHeaderBytes: number): ApiError {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return new ApiError(431, `The request's headers exceed the server's limit of ${maxHeaderBytes} bytes.`, "invalid_request_error", "request_header_fields_too_large");
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return new ApiError(413, "The request's chunk extensions exceed the server's limit.", "invalid_request_error", "request_too_large");
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new ApiError(408, "The request did not arrive in time.", "invalid_request_error", "request_timeout");
    default:
      return invalidRequest(`The request is not valid HTTP/1.1 (${error.message}).`, null, "invalid_http_request");
  }
}

/** The answer to one of Fastify's router errors (its `frameworkErrors` option). */
export function routerErrorResponse(error: FastifyError): ApiError {
  switch (error.code) {
    case "FST_ERR_BAD_URL":
      return invalidRequest("The request URL is not valid: it has a malformed percent-escape.", null, "invalid_url");
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new ApiError(414, `A segment of the request URL is longer than the limit of ${MAX_URL_SEGMENT} characters.`, "invalid_request_error", "url_too_long");
    default:
      return invalidRequest(`The request URL cannot be routed (${error.code}).`, null, "invalid_url");
  }
}

/** Per socket, the responses in flight and what waits for them to end. */
const inFlight = new WeakMap<Socket, { count: number; idle: (() => void)[] }>();

/** Counts the responses in flight per socket; call once per server. */
export function trackResponses(server: Server): void {
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    const entry = inFlight.get(socket) ?? { count: 0, idle: [] };
    inFlight.set(socket, entry);
    entry.count++;
    response.once("close", () => {
      if (--entry.count > 0) return;
      inFlight.delete(socket);
      for (const wake of entry.idle) wake();
    });
  });
}

/**
 * Node's 'clientError' listener (Fastify's `clientErrorHandler` option): the parser failed, so
 * there is no request to answer through Fastify; the answer is written to the socket whole, with
 * `Connection: close`, and the socket closed once the client has read it (or after LINGER_MS).
 * When the failure follows pipelined requests still being answered, it waits for their
 * responses, which bytes written now would corrupt.
 */
export function clientErrorHandler(maxHeaderBytes: number): (error: ConnectionError, socket: Socket) => void {
  const answered = new WeakSet<Socket>();
  return (error, socket) => {
    // Node reports every later failure of the same socket again; the first answer stands.
    if (answered.has(socket)) return;
    answered.add(socket);
    const answer = () => {
      if (error.code === "ECONNRESET" || !socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(connectionErrorResponse(error, maxHeaderBytes).toRawResponse());
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    };
    const pending = inFlight.get(socket);
    if (pending) pending.idle.push(answer);
    else answer();
  };
}

/**
 * Whether a request lacks the Host header HTTP/1.1 requires (RFC 9112 §3.2). Node's own check is
 * turned off (`requireHostHeader: false`) because it answers with an empty body before any hook.
 */
export function missingHost(request: IncomingMessage): boolean {
  return request.httpVersionMajor === 1 && request.httpVersionMinor >= 1 && request.headers.host === undefined;
}

/** Whether a request carries an Expect other than 100-continue (which Node has already answered). */
export function unmetExpectation(request: IncomingMessage): boolean {
  const expect = request.headers.expect;
  return expect !== undefined && !/^\s*100-continue\s*$/i.test(expect);
}
