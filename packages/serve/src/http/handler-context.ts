// What the route handlers share: the models, the request slots, the metrics and the server's
// limits. Built once by createServer; handlers never read configuration from anywhere else.
import type { ServerMetrics } from "./metrics.js";
import type { ModelRegistry } from "./model-registry.js";
import type { RequestSlots } from "./request-slots.js";

export interface HandlerContext {
  registry: ModelRegistry;
  slots: RequestSlots;
  metrics: ServerMetrics;
  /** The most completion tokens one request may ask for. */
  maxTokensLimit: number;
}
