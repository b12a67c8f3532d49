// createServer: the OpenAI-compatible HTTP server on Fastify. Routes: POST /v1/chat/completions,
// POST /v1/completions, POST /v1/responses, GET /v1/models(/:model), GET /health, GET /metrics (Prometheus). Every
// response that is not a success is OpenAI's error JSON with its status, Fastify's and Node's own
// refusals included (protocol-errors.ts); the API key is checked before anything else a request
// could be refused for, except on /health and /metrics. close() stops accepting, lets in-flight
// requests finish for a grace period, aborts the rest, then closes the engines it loaded.
import { createHash, timingSafeEqual } from "node:crypto";
import { maxHeaderSize } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";
import { chatCompletions } from "./chat-completions.js";
import { completions } from "./completions.js";
import { responses, storedResponse } from "./responses.js";
import { ResponseStore } from "./response-store.js";
import { ApiError, bodyTooLarge, fromServeError, invalidApiKey, invalidRequest, methodNotAllowed, modelNotFound, serverError, shuttingDown, unknownUrl, unsupportedMediaType } from "./errors.js";
import type { HandlerContext } from "./handler-context.js";
import { ServerMetrics } from "./metrics.js";
import { loadServedModel, type EngineSettings } from "./model-loader.js";
import { DirectoryModelRegistry, type ModelLoader, type ModelRegistry } from "./model-registry.js";
import { clientErrorHandler, MAX_URL_SEGMENT, missingHost, routerErrorResponse, trackResponses, unmetExpectation } from "./protocol-errors.js";
import { RequestSlots } from "./request-slots.js";
import { RouteMethods } from "./route-methods.js";
import type { ServedModel } from "./served-model.js";

export interface ServerOptions {
  /** Models already loaded, or a registry that decides what a model name means. */
  models?: readonly ServedModel[] | ModelRegistry;
  /** Serve every model folder in this directory too, loaded on first request. */
  modelDir?: string;
  /** How folders of modelDir become engines (default: loadServedModel with `engine`). */
  load?: ModelLoader;
  engine?: EngineSettings;
  /** When set, every /v1 request needs `Authorization: Bearer <apiKey>`; /health and /metrics stay open. */
  apiKey?: string;
  /** Largest accepted request body (default 1 MiB). */
  maxBodyBytes?: number;
  /** Largest max_tokens a request may ask for, and the budget when it asks for none (default 2048). */
  maxTokensLimit?: number;
  /** Generation requests in flight at once; more get 429 (default 64). */
  maxConcurrent?: number;
  /** How long close() lets in-flight requests run before aborting them (default 10 s). */
  shutdownGraceMs?: number;
  /**
   * The text around the tool list in a prompt with tools, with placeholders {{tools}} and
   * {{rules}} (default DEFAULT_TOOL_PROMPT_TEMPLATE of @gemma-ts/serve). The calling convention
   * the model must follow is fixed; this only changes how it is explained.
   */
  toolPromptTemplate?: string;
  /** Responses kept for previous_response_id (default 256, least recently used dropped first). */
  maxStoredResponses?: number;
  /** Fastify's logger option (default off). */
  logger?: FastifyServerOptions["logger"];
}

export interface GemmaServer {
  /** Starts listening; port 0 picks a free port. Resolves to the address bound. */
  listen(port: number, host?: string): Promise<{ port: number; host: string; url: string }>;
  close(): Promise<void>;
  readonly app: FastifyInstance;
  readonly registry: ModelRegistry;
  /** What GET /metrics serves; `metrics.registry` is its prom-client Registry, one per server. */
  readonly metrics: ServerMetrics;
}

/** The generation routes: counted and timed by the metrics. */
const GENERATION_ROUTES = new Set(["/v1/chat/completions", "/v1/completions", "/v1/responses"]);
/** Routes open without the API key, as in vLLM and llama-server: probes and scrapers hold no key. */
const OPEN_ROUTES = new Set(["/health"]);

export function createServer(options: ServerOptions): GemmaServer {
  const registry = isRegistry(options.models)
    ? options.models
    : new DirectoryModelRegistry({
        models: options.models ?? [],
        ...(options.modelDir !== undefined ? { modelDir: options.modelDir, load: options.load ?? ((folder, id) => loadServedModel(folder, { id, ...options.engine })) } : {}),
      });
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  const slots = new RequestSlots(options.maxConcurrent ?? 64);
  const metrics = new ServerMetrics(registry, () => slots.size);
  const context: HandlerContext = {
    registry,
    slots,
    metrics,
    maxTokensLimit: options.maxTokensLimit ?? 2048,
    toolPromptTemplate: options.toolPromptTemplate,
    responses: new ResponseStore(options.maxStoredResponses ?? 256),
  };
  const checkKey = options.apiKey === undefined ? undefined : keyChecker(options.apiKey);
  let closing: Promise<void> | undefined;

  const refuse = (reply: FastifyReply, error: ApiError) => reply.status(error.status).headers(error.headers).send(error.toJSON());
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: maxBodyBytes,
    return503OnClosing: false,
    forceCloseConnections: "idle",
    // Node answers a request without Host itself, with an empty body; the onRequest hook does instead.
    http: { requireHostHeader: false },
    routerOptions: { maxParamLength: MAX_URL_SEGMENT },
    clientErrorHandler: clientErrorHandler(maxHeaderSize),
    // The router's refusals skip every hook, so the shutdown and the key are checked here too.
    frameworkErrors: (error, request, reply) => {
      let refusal: ApiError;
      try {
        if (closing) throw shuttingDown();
        checkKey?.(request.headers.authorization);
        refusal = routerErrorResponse(error);
      } catch (thrown) {
        refusal = thrown as ApiError;
      }
      if (closing) reply.header("connection", "close");
      refuse(reply, refusal);
    },
  });
  trackResponses(app.server);
  // Node answers an Expect it cannot meet with an empty 417 before any hook; as a request, the hooks decide.
  app.server.on("checkExpectation", (request, response) => app.server.emit("request", request, response));
  // Only JSON bodies: Fastify's text/plain parser would hand the handlers a string.
  app.removeContentTypeParser("text/plain");
  const routes = new RouteMethods();
  app.addHook("onRoute", (route) => routes.add(route.method, route.url));

  app.addHook("onRequest", async (request, reply) => {
    // The route matched, not the raw URL: no query string or spelling of a path opens a route.
    const route = request.routeOptions.url;
    if (route !== undefined && request.method === "POST" && GENERATION_ROUTES.has(route)) metrics.begin(request, reply, route);
    if (closing) {
      reply.header("connection", "close");
      throw shuttingDown();
    }
    if (checkKey && (route === undefined || !OPEN_ROUTES.has(route))) checkKey(request.headers.authorization);
    if (missingHost(request.raw)) {
      reply.header("connection", "close");
      throw invalidRequest("An HTTP/1.1 request needs a Host header.", null, "missing_host");
    }
    if (unmetExpectation(request.raw)) throw new ApiError(417, `Expect: ${request.headers.expect} is not supported; only 100-continue is.`, "invalid_request_error", "expectation_failed");
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error, maxBodyBytes);
    if (apiError.status >= 500) request.log.error({ err: error instanceof ApiError && error.cause ? error.cause : error }, apiError.message);
    return refuse(reply, apiError);
  });
  app.setNotFoundHandler((request, reply) => {
    const allowed = routes.allowed(request.url);
    return refuse(reply, allowed.length > 0 ? methodNotAllowed(request.method, request.url, allowed) : unknownUrl(request.method, request.url));
  });

  const handle = (handler: (context: HandlerContext, request: FastifyRequest, reply: FastifyReply) => Promise<object | undefined>) => (request: FastifyRequest, reply: FastifyReply) =>
    handler(context, request, reply);
  app.post("/v1/chat/completions", handle(chatCompletions));
  app.post("/v1/completions", handle(completions));
  app.post("/v1/responses", handle(responses));
  app.get<{ Params: { id: string } }>("/v1/responses/:id", async (request) => storedResponse(context, request.params.id));
  app.get("/v1/models", async () => ({ object: "list", data: (await registry.list()).map(modelObject) }));
  app.get<{ Params: { model: string } }>("/v1/models/:model", async (request) => {
    const model = (await registry.list()).find((info) => info.id === request.params.model);
    if (!model) throw modelNotFound(request.params.model);
    return modelObject(model);
  });
  app.get("/health", async () => ({
    status: closing ? "shutting_down" : "ok",
    in_flight: slots.size,
    models: registry.loaded().map((model) => {
      const stats = model.engine.stats();
      return { id: model.id, running: stats.running, queued: stats.queued, max_batch_size: stats.maxBatchSize };
    }),
  }));
  app.get("/metrics", async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));

  const shutdown = async (graceMs: number) => {
    const stopped = app.close(); // stops accepting at once; resolves when connections are gone
    const timer = setTimeout(() => slots.abortAll(), graceMs);
    await slots.idle();
    clearTimeout(timer);
    // Every response has ended; what remains are idle keep-alive sockets.
    app.server.closeAllConnections();
    await stopped;
    await registry.close();
  };

  return {
    app,
    registry,
    metrics,
    async listen(port, host = "127.0.0.1") {
      await app.listen({ port, host });
      const address = app.server.address() as AddressInfo;
      const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
      return { port: address.port, host: address.address, url: `http://${shownHost}:${address.port}` };
    },
    close() {
      closing ??= shutdown(options.shutdownGraceMs ?? 10_000);
      return closing;
    },
  };
}

function modelObject(model: { id: string; created: number }) {
  return { id: model.id, object: "model", created: model.created, owned_by: "gemma-ts" };
}

function isRegistry(models: ServerOptions["models"]): models is ModelRegistry {
  return models !== undefined && !Array.isArray(models) && typeof (models as ModelRegistry).get === "function";
}

/** Compares digests in constant time, so response timing says nothing about the key. */
function keyChecker(apiKey: string): (header: string | undefined) => void {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  const expected = digest(apiKey);
  return (header) => {
    const match = /^Bearer\s+(\S.*)$/i.exec(header ?? "");
    if (!match) throw invalidApiKey(false);
    if (!timingSafeEqual(digest(match[1]!.trim()), expected)) throw invalidApiKey(true);
  };
}

/** Fastify's own errors (body parsing, limits) and the engine's typed errors in OpenAI's shape. */
function toApiError(error: FastifyError | ApiError, maxBodyBytes: number): ApiError {
  if (error instanceof ApiError) return error;
  const fromServe = fromServeError(error);
  if (fromServe) return fromServe;
  const status = error.statusCode ?? 500;
  if (status === 413) return bodyTooLarge(maxBodyBytes);
  if (status === 415) return unsupportedMediaType();
  if (status >= 400 && status < 500) return invalidRequest(error.code === "FST_ERR_CTP_INVALID_JSON_BODY" || error instanceof SyntaxError ? `The request body is not valid JSON: ${error.message}` : error.message);
  return serverError("The server failed to handle the request; see its log.");
}
