// POST /v1/completions, OpenAI's legacy text endpoint: the prompt string after <bos>, answered as
// a `text_completion` object or, streamed, as `text_completion` events whose last one carries the
// finish_reason. `logprobs` here is a count of alternatives, reported as parallel arrays.
import type { FastifyReply, FastifyRequest } from "fastify";
import { completionPromptIds } from "../completion-prompt.js";
import { planGeneration } from "./generation-plan.js";
import type { HandlerContext } from "./handler-context.js";
import { completionLogprobs, TextOffsets } from "./logprobs.js";
import { handleGeneration } from "./generation-handler.js";
import type { ResponseMeta, Wire } from "./respond.js";
import { completionRequest, parseBody } from "./schemas.js";

export async function completions(context: HandlerContext, request: FastifyRequest, reply: FastifyReply): Promise<object | undefined> {
  const body = parseBody(completionRequest, request.body);
  return handleGeneration(context, request, reply, body, (model, includeUsage) => {
    const wantLogprobs = body.logprobs != null;
    const plan = planGeneration(body, model, completionPromptIds(model.tokenizer, body.prompt), {
      maxTokens: body.max_tokens,
      topLogprobs: body.logprobs ?? undefined,
      maxTokensLimit: context.maxTokensLimit,
      promptParam: "prompt",
    });
    return { plan, wire: completionWire(wantLogprobs, includeUsage) };
  });
}

function completionWire(wantLogprobs: boolean, includeUsage: boolean): Wire {
  const offsets = new Map<number, TextOffsets>();
  const chunkOf = (meta: ResponseMeta, choices: object[]) => ({ id: meta.id, object: "text_completion", created: meta.created, model: meta.model, choices, ...(includeUsage ? { usage: null } : {}) });
  return {
    idPrefix: "cmpl",
    body: (meta, choices, usage) => ({
      id: meta.id,
      object: "text_completion",
      created: meta.created,
      model: meta.model,
      choices: choices.map((choice, index) => ({
        index,
        text: choice.text,
        logprobs: wantLogprobs ? completionLogprobs(choice.logprobs) : null,
        finish_reason: choice.finishReason,
      })),
      usage,
    }),
    opening: () => [],
    chunk: (meta, index, chunk) => {
      if (chunk.text.length === 0 && !chunk.finishReason && !(wantLogprobs && chunk.logprobs?.length)) return [];
      if (wantLogprobs && !offsets.has(index)) offsets.set(index, new TextOffsets());
      const logprobs = wantLogprobs ? completionLogprobs(chunk.logprobs ?? [], offsets.get(index)) : null;
      return [chunkOf(meta, [{ index, text: chunk.text, logprobs, finish_reason: chunk.finishReason ?? null }])];
    },
    usage: (meta, usage) => ({ ...chunkOf(meta, []), usage }),
  };
}
