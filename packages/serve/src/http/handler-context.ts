// What the route handlers share: the models, the request slots, the metrics and the server's
// limits. Built once by createServer; handlers never read configuration from anywhere else.
import type { ServerMetrics } from "./metrics.js";
import type { ModelRegistry } from "./model-registry.js";
import type { RequestSlots } from "./request-slots.js";
import type { ResponseStore } from "./response-store.js";

export interface HandlerContext {
  registry: ModelRegistry;
  slots: RequestSlots;
  metrics: ServerMetrics;
  /** The most completion tokens one request may ask for. */
  maxTokensLimit: number;
  /** The words around the tool list in the prompt (tool-prompt.ts); undefined: the default. */
  toolPromptTemplate?: string | undefined;
  /** Recent /v1/responses answers, for previous_response_id. */
  responses: ResponseStore;
}
