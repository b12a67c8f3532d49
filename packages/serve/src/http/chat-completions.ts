// POST /v1/chat/completions: messages rendered with Gemma's chat template, answered as OpenAI's
// `chat.completion` object or, streamed, as `chat.completion.chunk` events (the first of each
// choice carries `delta.role: "assistant"`, the last an empty delta with its finish_reason).
// With tools (tool-setup.ts) a choice may answer with `tool_calls` instead of content: a forced
// call streams its arguments as OpenAI's tool-call deltas; a free reply (auto) is held back while
// it could still be a call and read as one at its end (tool-calls.ts).
import type { FastifyReply, FastifyRequest } from "fastify";
import { chatPromptIds, type ChatMessageInput } from "../chat-prompt.js";
import { couldBeCall, parseToolCalls, type ParsedToolCall } from "../tool-calls.js";
import type { TokenLogprob } from "../types.js";
import { chatToolSetup } from "./chat-tools.js";
import { forcedCall, toolCallId } from "./forced-call.js";
import { planGeneration } from "./generation-plan.js";
import type { HandlerContext } from "./handler-context.js";
import { chatLogprobs } from "./logprobs.js";
import { handleGeneration } from "./generation-handler.js";
import type { ResponseMeta, Wire } from "./respond.js";
import type { CollectedChoice } from "./run-choices.js";
import { chatCompletionRequest, parseBody, type ChatCompletionRequest } from "./schemas.js";
import type { ToolSetup } from "./tool-setup.js";

export async function chatCompletions(context: HandlerContext, request: FastifyRequest, reply: FastifyReply): Promise<object | undefined> {
  const body = parseBody(chatCompletionRequest, request.body);
  const tools = chatToolSetup(body, context.toolPromptTemplate);
  return handleGeneration(context, request, reply, body, (model, includeUsage) => {
    const wantLogprobs = body.logprobs === true;
    const plan = planGeneration(body, model, [chatPromptIds(model.tokenizer, chatMessages(body), { tools: tools.prompt })], {
      maxTokens: body.max_completion_tokens ?? body.max_tokens,
      topLogprobs: wantLogprobs ? (body.top_logprobs ?? 0) : undefined,
      maxTokensLimit: context.maxTokensLimit,
      promptParams: ["messages"],
      complete: tools.mode === "forced" ? forcedCall(model.tokenizer, tools.candidates) : undefined,
    });
    return { plan, wire: chatWire(wantLogprobs, includeUsage, tools) };
  });
}

/** The messages with their calls as the prompt builder takes them. */
function chatMessages(body: ChatCompletionRequest): ChatMessageInput[] {
  return body.messages.map(({ tool_calls, ...message }) => ({
    ...message,
    ...(tool_calls ? { tool_calls: tool_calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })) } : {}),
  }));
}

interface OpenAiToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** The calls a finished choice made: its forced call, or a free reply that reads as calls. */
export function choiceToolCalls(choice: Pick<CollectedChoice, "text" | "toolCall">, tools: ToolSetup): OpenAiToolCall[] | undefined {
  if (choice.toolCall) return [{ id: choice.toolCall.id, type: "function", function: { name: choice.toolCall.name, arguments: choice.text } }];
  if (tools.mode !== "free") return undefined;
  const parsed = readCalls(choice.text, tools);
  return parsed?.map((call) => ({ id: toolCallId(), type: "function", function: { name: call.name, arguments: call.arguments } }));
}

/** Calls in a free reply; without parallel_tool_calls only the first counts. */
function readCalls(text: string, tools: ToolSetup): ParsedToolCall[] | undefined {
  const calls = parseToolCalls(text, new Set(tools.functions.map((tool) => tool.name)));
  return calls && !tools.parallel ? calls.slice(0, 1) : calls;
}

/** Per choice, while streaming a free reply: text held back while it could still be a call. */
interface HeldReply {
  text: string;
  logprobs: TokenLogprob[];
  /** It can no longer be a call: text streams as it comes. */
  released: boolean;
}

function chatWire(wantLogprobs: boolean, includeUsage: boolean, tools: ToolSetup): Wire {
  const chunkOf = (meta: ResponseMeta, choices: object[]) => ({ id: meta.id, object: "chat.completion.chunk", created: meta.created, model: meta.model, choices, ...(includeUsage ? { usage: null } : {}) });
  const held = new Map<number, HeldReply>();
  const contentEvent = (meta: ResponseMeta, index: number, text: string, logprobs: TokenLogprob[] | undefined) =>
    chunkOf(meta, [{ index, delta: { content: text }, logprobs: wantLogprobs && logprobs ? chatLogprobs(logprobs) : null, finish_reason: null }]);
  const callEvent = (meta: ResponseMeta, index: number, call: object) => chunkOf(meta, [{ index, delta: { tool_calls: [call] }, logprobs: null, finish_reason: null }]);
  const finishEvent = (meta: ResponseMeta, index: number, reason: string) => chunkOf(meta, [{ index, delta: {}, logprobs: null, finish_reason: reason }]);
  return {
    idPrefix: "chatcmpl",
    body: (meta, choices, usage) => ({
      id: meta.id,
      object: "chat.completion",
      created: meta.created,
      model: meta.model,
      choices: choices.map((choice, index) => {
        const calls = choiceToolCalls(choice, tools);
        return {
          index,
          message: calls ? { role: "assistant", content: null, tool_calls: calls, refusal: null } : { role: "assistant", content: choice.text, refusal: null },
          logprobs: wantLogprobs && !calls ? chatLogprobs(choice.logprobs) : null,
          finish_reason: calls ? "tool_calls" : choice.finishReason,
        };
      }),
      usage,
    }),
    opening: (meta, index) => [chunkOf(meta, [{ index, delta: { role: "assistant", content: tools.mode === "forced" ? null : "" }, logprobs: null, finish_reason: null }])],
    chunk: (meta, index, chunk) => {
      const events: object[] = [];
      if (tools.mode === "forced") {
        if (chunk.toolCall) events.push(callEvent(meta, index, { index: 0, id: chunk.toolCall.id, type: "function", function: { name: chunk.toolCall.name, arguments: chunk.text } }));
        else if (chunk.text.length > 0) events.push(callEvent(meta, index, { index: 0, function: { arguments: chunk.text } }));
        if (chunk.finishReason) events.push(finishEvent(meta, index, "tool_calls"));
        return events;
      }
      let reply = tools.mode === "free" ? held.get(index) : undefined;
      if (tools.mode === "free" && !reply) {
        reply = { text: "", logprobs: [], released: false };
        held.set(index, reply);
      }
      if (reply && !reply.released) {
        reply.text += chunk.text;
        reply.logprobs.push(...(chunk.logprobs ?? []));
        if (!couldBeCall(reply.text)) {
          reply.released = true;
          events.push(contentEvent(meta, index, reply.text, reply.logprobs));
        }
      } else if (chunk.text.length > 0 || (wantLogprobs && chunk.logprobs?.length)) {
        events.push(contentEvent(meta, index, chunk.text, chunk.logprobs));
      }
      if (!chunk.finishReason) return events;
      if (reply && !reply.released) {
        const calls = readCalls(reply.text, tools);
        if (calls) {
          calls.forEach((call, k) => events.push(callEvent(meta, index, { index: k, id: toolCallId(), type: "function", function: { name: call.name, arguments: call.arguments } })));
          events.push(finishEvent(meta, index, "tool_calls"));
          return events;
        }
        if (reply.text.length > 0 || reply.logprobs.length > 0) events.push(contentEvent(meta, index, reply.text, reply.logprobs));
      }
      events.push(finishEvent(meta, index, chunk.finishReason));
      return events;
    },
    usage: (meta, usage) => ({ ...chunkOf(meta, []), usage }),
  };
}
