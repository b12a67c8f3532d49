// What the route handlers share: the models, the request slots and the server's limits. Built
// once by createServer; handlers never read configuration from anywhere else.
import type { ModelRegistry } from "./model-registry.js";
import type { RequestSlots } from "./request-slots.js";

export interface HandlerContext {
  registry: ModelRegistry;
  slots: RequestSlots;
  /** The most completion tokens one request may ask for. */
  maxTokensLimit: number;
}
