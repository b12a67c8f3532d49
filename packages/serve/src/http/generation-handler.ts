// The shape both generation endpoints share: a request slot held for the request's life (so a
// disconnect or shutdown reaches it), the model it names, a plan and wire format the endpoint
// builds from its own body, then the response (JSON or SSE) with its metrics.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { GenerationPlan } from "./generation-plan.js";
import type { HandlerContext } from "./handler-context.js";
import { respond, type Wire } from "./respond.js";
import type { ServedModel } from "./served-model.js";

export interface GenerationBody {
  model: string;
  stream?: boolean | null | undefined;
  stream_options?: { include_usage?: boolean | null | undefined } | null | undefined;
}

export async function handleGeneration(
  context: HandlerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  body: GenerationBody,
  build: (model: ServedModel, includeUsage: boolean) => { plan: GenerationPlan; wire: Wire },
): Promise<object | undefined> {
  const active = context.slots.begin(reply.raw);
  try {
    const model = await context.registry.get(body.model);
    const includeUsage = body.stream === true && body.stream_options?.include_usage === true;
    const { plan, wire } = build(model, includeUsage);
    return await respond(reply, wire, {
      model,
      plan,
      stream: body.stream === true,
      includeUsage,
      active,
      log: request.log,
      metrics: context.metrics.of(request),
    });
  } finally {
    active.end();
  }
}
