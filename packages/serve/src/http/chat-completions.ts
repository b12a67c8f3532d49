// POST /v1/chat/completions: messages rendered with Gemma's chat template, answered as OpenAI's
// `chat.completion` object or, streamed, as `chat.completion.chunk` events (the first of each
// choice carries `delta.role: "assistant"`, the last an empty delta with its finish_reason).
import type { FastifyReply, FastifyRequest } from "fastify";
import { chatPromptIds } from "../chat-prompt.js";
import { planGeneration } from "./generation-plan.js";
import type { HandlerContext } from "./handler-context.js";
import { chatLogprobs } from "./logprobs.js";
import { handleGeneration } from "./generation-handler.js";
import type { ResponseMeta, Wire } from "./respond.js";
import { chatCompletionRequest, parseBody } from "./schemas.js";

export async function chatCompletions(context: HandlerContext, request: FastifyRequest, reply: FastifyReply): Promise<object | undefined> {
  const body = parseBody(chatCompletionRequest, request.body);
  return handleGeneration(context, request, reply, body, (model, includeUsage) => {
    const wantLogprobs = body.logprobs === true;
    const plan = planGeneration(body, model, [chatPromptIds(model.tokenizer, body.messages)], {
      maxTokens: body.max_completion_tokens ?? body.max_tokens,
      topLogprobs: wantLogprobs ? (body.top_logprobs ?? 0) : undefined,
      maxTokensLimit: context.maxTokensLimit,
      promptParams: ["messages"],
    });
    return { plan, wire: chatWire(wantLogprobs, includeUsage) };
  });
}

function chatWire(wantLogprobs: boolean, includeUsage: boolean): Wire {
  const chunkOf = (meta: ResponseMeta, choices: object[]) => ({ id: meta.id, object: "chat.completion.chunk", created: meta.created, model: meta.model, choices, ...(includeUsage ? { usage: null } : {}) });
  return {
    idPrefix: "chatcmpl",
    body: (meta, choices, usage) => ({
      id: meta.id,
      object: "chat.completion",
      created: meta.created,
      model: meta.model,
      choices: choices.map((choice, index) => ({
        index,
        message: { role: "assistant", content: choice.text, refusal: null },
        logprobs: wantLogprobs ? chatLogprobs(choice.logprobs) : null,
        finish_reason: choice.finishReason,
      })),
      usage,
    }),
    opening: (meta, index) => [chunkOf(meta, [{ index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }])],
    chunk: (meta, index, chunk) => {
      const events: object[] = [];
      if (chunk.text.length > 0 || (wantLogprobs && chunk.logprobs?.length)) {
        events.push(chunkOf(meta, [{ index, delta: { content: chunk.text }, logprobs: wantLogprobs && chunk.logprobs ? chatLogprobs(chunk.logprobs) : null, finish_reason: null }]));
      }
      if (chunk.finishReason) events.push(chunkOf(meta, [{ index, delta: {}, logprobs: null, finish_reason: chunk.finishReason }]));
      return events;
    },
    usage: (meta, usage) => ({ ...chunkOf(meta, []), usage }),
  };
}
