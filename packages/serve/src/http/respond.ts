// What both endpoints share: run the planned choices on the engine and answer with one JSON body
// or an SSE stream, in the endpoint's wire shapes (a Wire). The engine's typed errors map to
// statuses (fromServeError); a failure before the first byte is an error status, after it an `error` event
// (the OpenAI SDKs raise it) and the end of the stream.
import { randomBytes } from "node:crypto";
import type { FastifyBaseLogger, FastifyReply } from "fastify";
import type { CompletionChunk, CompletionRequest } from "../types.js";
import { ApiError, fromServeError, serverError, shuttingDown } from "./errors.js";
import type { ToolCallChunk } from "./forced-call.js";
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
  chunk(meta: ResponseMeta, index: number, chunk: ToolCallChunk): object[];
  usage(meta: ResponseMeta, usage: OpenAiUsage): object;
  /**
   * Events that end a stream in place of the usage event (the Responses API's response.completed).
   * With it the stream is the Responses API's: each event named by its `type` (`event:` lines),
   * a failure an `error` event, and no [DONE] terminator.
   */
  end?(meta: ResponseMeta, usage: OpenAiUsage): object[];
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
  // OpenAI's chat and completion ids join with "-", the Responses API's ("resp_") with "_".
  const separator = wire.idPrefix.endsWith("_") ? "" : "-";
  const meta: ResponseMeta = { id: `${wire.idPrefix}${separator}${randomBytes(12).toString("hex")}`, created: Math.floor(Date.now() / 1000), model: options.model.id };
  const { active, metrics } = options;
  if (metrics) metrics.model = options.model.id;
  const requests = options.plan.requests(active.signal);
  const abortAll = () => active.abort("failed");
  const { complete } = options.plan;
  const engine = options.model.engine;
  const runner = complete ? { complete: (request: CompletionRequest) => complete(engine, request) } : engine;
  const observe = metrics && ((index: number, chunk: CompletionChunk) => metrics.chunk(index, chunk));
  if (!options.stream) {
    try {
      const { choices, usage } = await collectChoices(runner, requests, abortAll, observe, options.plan.n);
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
  const named = wire.end !== undefined;
  const send = (event: object) => (named ? sse.sendNamed((event as { type: string }).type, event) : sse.send(event));
  try {
    const usage = await runChoices(runner, requests, abortAll, async (index, chunk) => {
      observe?.(index, chunk);
      openStream();
      if (!started[index]) {
        started[index] = true;
        for (const event of wire.opening(meta, index)) await send(event);
      }
      for (const event of wire.chunk(meta, index, chunk)) await send(event);
    }, options.plan.n);
    openStream();
    if (metrics) metrics.usage = usage;
    if (wire.end) {
      for (const event of wire.end(meta, usage)) await send(event);
      sse.end();
    } else {
      if (options.includeUsage) await sse.send(wire.usage(meta, usage));
      await sse.done();
    }
  } catch (error) {
    const apiError = failure(error, active, options.log);
    if (!sse.opened) throw apiError;
    if (active.cause !== "client_closed") {
      // The SDKs raise an event whose data has `error`; the Responses API's error event also has its fields at the top.
      const body = apiError.toJSON();
      await (named ? sse.sendNamed("error", { ...body.error, ...body, type: "error" }) : sse.send(body));
    }
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
