// What both endpoints share: run the planned choices on the engine and answer with one JSON body
// or an SSE stream, in the endpoint's wire shapes (a Wire). The engine's typed errors map to
// statuses (fromServeError); a failure before the first byte is an error status, after it an `error` event
// (the OpenAI SDKs raise it) and the end of the stream.
import { randomBytes } from "node:crypto";
import type { FastifyBaseLogger, FastifyReply } from "fastify";
import type { CompletionChunk } from "../types.js";
import { ApiError, fromServeError, serverError, shuttingDown } from "./errors.js";
import type { GenerationPlan } from "./generation-plan.js";
import type { RequestMetrics } from "./metrics.js";
import type { ActiveRequest } from "./request-slots.js";
import { collectChoices, runChoices, type CollectedChoice, type OpenAiUsage } from "./run-choices.js";
import type { ServedModel } from "./served-model.js";
import { SseStream } from "./sse.js";

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

/** One endpoint's wire format. */
export interface Wire {
  idPrefix: string;
  body(meta: ResponseMeta, choices: CollectedChoice[], usage: OpenAiUsage): object;
  /** Events that open a choice's stream (chat: the assistant role). */
  opening(meta: ResponseMeta, index: number): object[];
  /** Events for one engine chunk of choice `index`. */
  chunk(meta: ResponseMeta, index: number, chunk: CompletionChunk): object[];
  usage(meta: ResponseMeta, usage: OpenAiUsage): object;
}

export interface RespondOptions {
  model: ServedModel;
  plan: GenerationPlan;
  stream: boolean;
  includeUsage: boolean;
  active: ActiveRequest;
  log: FastifyBaseLogger;
  /** The request's metrics tracker: sees each chunk's tokens and the usage once complete. */
  metrics?: RequestMetrics | undefined;
}

export async function respond(reply: FastifyReply, wire: Wire, options: RespondOptions): Promise<object | undefined> {
  const meta: ResponseMeta = { id: `${wire.idPrefix}-${randomBytes(12).toString("hex")}`, created: Math.floor(Date.now() / 1000), model: options.model.id };
  const { active, metrics } = options;
  if (metrics) metrics.model = options.model.id;
  const requests = options.plan.requests(active.signal);
  const abortAll = () => active.abort("failed");
  const observe = metrics && ((index: number, chunk: CompletionChunk) => metrics.chunk(index, chunk));
  if (!options.stream) {
    try {
      const { choices, usage } = await collectChoices(options.model.engine, requests, abortAll, observe, options.plan.n);
      if (metrics) metrics.usage = usage;
      return wire.body(meta, choices, usage);
    } catch (error) {
      throw failure(error, active, options.log);
    }
  }

  // The stream opens with the first chunk, so a request the engine rejects up front (a schema it
  // cannot enforce, a full queue) still gets its error status rather than an error event.
  const sse = new SseStream(reply.raw);
  const openStream = () => {
    if (sse.opened) return;
    reply.hijack(); // the stream is written to the socket directly from here on
    sse.open();
  };
  const started = requests.map(() => false);
  try {
    const usage = await runChoices(options.model.engine, requests, abortAll, async (index, chunk) => {
      observe?.(index, chunk);
      openStream();
      if (!started[index]) {
        started[index] = true;
        for (const event of wire.opening(meta, index)) await sse.send(event);
      }
      for (const event of wire.chunk(meta, index, chunk)) await sse.send(event);
    }, options.plan.n);
    openStream();
    if (metrics) metrics.usage = usage;
    if (options.includeUsage) await sse.send(wire.usage(meta, usage));
    await sse.done();
  } catch (error) {
    const apiError = failure(error, active, options.log);
    if (!sse.opened) throw apiError;
    if (active.cause !== "client_closed") await sse.send(apiError.toJSON());
    sse.end();
  }
  return undefined;
}

/** The ApiError a failed generation answers with; unexpected errors are logged, not shown. */
function failure(error: unknown, active: ActiveRequest, log: FastifyBaseLogger): ApiError {
  if (error instanceof ApiError) return error;
  if (active.cause === "shutdown") return shuttingDown();
  if (active.cause === "client_closed") return new ApiError(499, "The client closed the request.", "invalid_request_error", "client_closed");
  const mapped = fromServeError(error);
  if (mapped) return mapped;
  log.error({ err: error }, "generation failed");
  return serverError("The generation failed; see the server log.");
}
