// POST /v1/responses, OpenAI's Responses API (as the openai SDK's `responses.create` and vLLM
// serve it), on the chat path: `instructions` and `input` become chat messages (behind the stored
// conversation of `previous_response_id`), the answer is a `response` object whose `output` is a
// message or function_call items, and a stream is the API's named events (response.created ...
// response.completed, with sequence numbers). A response is stored (unless `store: false`) with
// its conversation for the next request to continue; GET /v1/responses/:id returns it.
import type { FastifyReply, FastifyRequest } from "fastify";
import { randomBytes } from "node:crypto";
import type { ChatMessageInput } from "../chat-prompt.js";
import { chatPromptText } from "../chat-prompt.js";
import { checkSchemaDocument } from "../json-schema.js";
import { choiceToolCalls } from "./chat-completions.js";
import { fromServeError, invalidRequest } from "./errors.js";
import { forcedCall, type ToolCallChunk } from "./forced-call.js";
import { planGeneration } from "./generation-plan.js";
import type { HandlerContext } from "./handler-context.js";
import { handleGeneration } from "./generation-handler.js";
import type { ResponseMeta, Wire } from "./respond.js";
import type { ResponseStore, StoredResponse } from "./response-store.js";
import { inputMessages, rejectUnsupportedResponseFields, responseFormatOf, responsesRequest, responseToolSetup, type ResponsesRequest } from "./responses-request.js";
import type { OpenAiUsage } from "./run-choices.js";
import { parseBody } from "./schemas.js";
import type { ToolSetup } from "./tool-setup.js";
import { couldBeCall } from "../tool-calls.js";

export async function responses(context: HandlerContext, request: FastifyRequest, reply: FastifyReply): Promise<object | undefined> {
  const body = parseBody(responsesRequest, request.body);
  rejectUnsupportedResponseFields(body);
  const format = responseFormatOf(body);
  if (format?.type === "json_schema") checkFormatSchema(format.json_schema.schema!);
  const tools = responseToolSetup(body, context.toolPromptTemplate);
  let previous: StoredResponse | undefined;
  if (body.previous_response_id != null) {
    previous = context.responses.get(body.previous_response_id);
    if (!previous) throw invalidRequest(`Previous response with id '${body.previous_response_id}' not found.`, "previous_response_id", "previous_response_not_found");
  }
  const history = previous?.conversation ?? [];
  const conversation = [...history, ...inputMessages(body.input)];
  const messages: ChatMessageInput[] = body.instructions ? [{ role: "developer", content: body.instructions }, ...conversation] : conversation;
  return handleGeneration(context, request, reply, body, (model) => {
    const promptText = chatPromptText(model.tokenizer, messages, { tools: tools.prompt });
    const encode = (text: string) => Array.from(model.tokenizer.encode(text, { addSpecialTokens: false }).ids);
    const known = previous?.continuation;
    const promptIds = known && promptText.startsWith(known.text) ? [...known.ids, ...encode(promptText.slice(known.text.length))] : encode(promptText);
    const special = model.tokenizer.special;
    const stops = new Set([special.eos, special.endOfTurn].filter((id): id is number => id !== undefined));
    const plan = planGeneration(
      { temperature: body.temperature, top_p: body.top_p, seed: body.seed, response_format: format },
      model,
      [promptIds],
      {
        maxTokens: body.max_output_tokens,
        topLogprobs: undefined,
        maxTokensLimit: context.maxTokensLimit,
        promptParams: ["input"],
        complete: tools.mode === "forced" ? forcedCall(model.tokenizer, tools.candidates) : undefined,
      },
    );
    const store = body.store === false ? undefined : context.responses;
    const prompt = { text: promptText, ids: promptIds, stops };
    return { plan, wire: responsesWire(body, tools, conversation, store, prompt) };
  });
}

/** GET /v1/responses/:id: a stored response. */
export function storedResponse(context: HandlerContext, id: string): object {
  const found = context.responses.get(id);
  if (!found) throw invalidRequest(`Response with id '${id}' not found.`, "response_id", "response_not_found");
  return found.body;
}

function checkFormatSchema(schema: Record<string, unknown>): void {
  try {
    checkSchemaDocument(schema);
  } catch (error) {
    const mapped = fromServeError(error);
    throw mapped ? invalidRequest(mapped.message, "text.format.schema", "unsupported_schema") : error;
  }
}

const itemId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

type OutputItem =
  | { type: "message"; id: string; status: "in_progress" | "completed" | "incomplete"; role: "assistant"; content: { type: "output_text"; text: string; annotations: []; logprobs: [] }[] }
  | { type: "function_call"; id: string; call_id: string; name: string; arguments: string; status: "in_progress" | "completed" };

/** The one choice's progress while streaming, and what the final response is built from. */
interface Progress {
  text: string;
  finishReason: "stop" | "length" | undefined;
  toolCall: { id: string; name: string } | undefined;
  /** The message item (or forced call) opened on the stream, once something was sent of it. */
  item: OutputItem | undefined;
  /** Free replies (auto) are held while they could still be a call. */
  released: boolean;
  /** Characters of `text` sent as deltas. */
  sent: number;
  /** The message item's id, once there is one. */
  messageId: string | undefined;
}

/** The prompt as rendered and as ids, and the ids that end a turn (left out of a stored reply). */
interface PromptRecord {
  text: string;
  ids: readonly number[];
  stops: ReadonlySet<number>;
}

function responsesWire(body: ResponsesRequest, tools: ToolSetup, conversation: readonly ChatMessageInput[], store: ResponseStore | undefined, prompt: PromptRecord): Wire {
  const generated: number[] = [];
  const progress: Progress = { text: "", finishReason: undefined, toolCall: undefined, item: undefined, released: tools.mode !== "free", sent: 0, messageId: undefined };
  let sequence = 0;
  const event = (type: string, fields: object) => ({ type, sequence_number: sequence++, ...fields });

  const envelope = (meta: ResponseMeta, status: string, output: OutputItem[], usage: OpenAiUsage | null, finishReason?: string) => ({
    id: meta.id,
    object: "response",
    created_at: meta.created,
    status,
    background: false,
    error: null,
    incomplete_details: status === "incomplete" ? { reason: finishReason === "length" ? "max_output_tokens" : "content_filter" } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    model: meta.model,
    output,
    parallel_tool_calls: tools.parallel,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    store: body.store !== false,
    temperature: body.temperature ?? 1,
    text: { format: body.text?.format ?? { type: "text" } },
    tool_choice: body.tool_choice ?? (tools.functions.length > 0 ? "auto" : "none"),
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? "disabled",
    usage: usage && responseUsage(usage),
    user: body.user ?? null,
  });

  /** The finished output, stored with the conversation it ends. */
  const finish = (meta: ResponseMeta, usage: OpenAiUsage) => {
    const calls = choiceToolCalls({ text: progress.text, ...(progress.toolCall ? { toolCall: progress.toolCall } : {}) }, tools);
    const incomplete = !calls && progress.finishReason === "length";
    progress.messageId ??= itemId("msg");
    const messageId = progress.messageId;
    const output: OutputItem[] = calls
      ? calls.map((call, k) => ({
          type: "function_call",
          id: k === 0 && progress.item?.type === "function_call" ? progress.item.id : itemId("fc"),
          call_id: call.id,
          name: call.function.name,
          arguments: call.function.arguments,
          status: "completed",
        }))
      : [{ type: "message", id: messageId, status: incomplete ? "incomplete" : "completed", role: "assistant", content: [outputText(progress.text)] }];
    const response = envelope(meta, incomplete ? "incomplete" : "completed", output, usage, progress.finishReason);
    const reply: ChatMessageInput = calls
      ? { role: "assistant", content: null, tool_calls: calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })) }
      : { role: "assistant", content: progress.text };
    // Gemma's template trims each turn's content, so the next prompt's text holds the reply trimmed.
    const continuation = calls ? undefined : { text: prompt.text + progress.text.trim(), ids: [...prompt.ids, ...generated.filter((id) => !prompt.stops.has(id))] };
    store?.set(meta.id, { conversation: [...conversation, reply], body: response, continuation });
    return { response, output, incomplete };
  };

  const record = (chunk: ToolCallChunk) => {
    progress.text += chunk.text;
    generated.push(...chunk.tokenIds);
    if (chunk.toolCall) progress.toolCall = chunk.toolCall;
    if (chunk.finishReason) progress.finishReason = chunk.finishReason;
  };

  return {
    idPrefix: "resp_",
    body: (meta, choices, usage) => {
      const choice = choices[0]!;
      progress.text = choice.text;
      progress.finishReason = choice.finishReason;
      progress.toolCall = choice.toolCall;
      generated.push(...choice.tokenIds);
      return finish(meta, usage).response;
    },
    opening: (meta) => {
      const start = envelope(meta, "in_progress", [], null);
      return [event("response.created", { response: start }), event("response.in_progress", { response: start })];
    },
    chunk: (_meta, _index, chunk) => {
      record(chunk);
      const events: object[] = [];
      if (chunk.toolCall) {
        progress.item = { type: "function_call", id: itemId("fc"), call_id: chunk.toolCall.id, name: chunk.toolCall.name, arguments: "", status: "in_progress" };
        events.push(event("response.output_item.added", { output_index: 0, item: progress.item }));
      }
      if (progress.toolCall) {
        if (chunk.text.length > 0) events.push(event("response.function_call_arguments.delta", { item_id: progress.item!.id, output_index: 0, delta: chunk.text }));
        return events;
      }
      if (!progress.released && !couldBeCall(progress.text)) progress.released = true;
      if (progress.released) events.push(...pendingText());
      return events;
    },
    usage: () => ({}),
    end: (meta, usage) => {
      const { response, output } = finish(meta, usage);
      const events: object[] = [];
      output.forEach((item, index) => {
        if (item.type === "function_call") {
          if (progress.item?.id !== item.id) {
            events.push(event("response.output_item.added", { output_index: index, item: { ...item, arguments: "", status: "in_progress" } }));
            events.push(event("response.function_call_arguments.delta", { item_id: item.id, output_index: index, delta: item.arguments }));
          }
          events.push(event("response.function_call_arguments.done", { item_id: item.id, output_index: index, name: item.name, arguments: item.arguments }));
        } else {
          events.push(...openMessage(), ...pendingText());
          events.push(event("response.output_text.done", { item_id: item.id, output_index: index, content_index: 0, text: progress.text, logprobs: [] }));
          events.push(event("response.content_part.done", { item_id: item.id, output_index: index, content_index: 0, part: outputText(progress.text) }));
        }
        events.push(event("response.output_item.done", { output_index: index, item }));
      });
      events.push(event(response.status === "incomplete" ? "response.incomplete" : "response.completed", { response }));
      return events;
    },
  };

  function openMessage(): object[] {
    if (progress.item) return [];
    progress.messageId ??= itemId("msg");
    progress.item = { type: "message", id: progress.messageId, status: "in_progress", role: "assistant", content: [] };
    return [
      event("response.output_item.added", { output_index: 0, item: progress.item }),
      event("response.content_part.added", { item_id: progress.item.id, output_index: 0, content_index: 0, part: outputText("") }),
    ];
  }

  /** The message's text not yet sent, as a delta (opening the message first). */
  function pendingText(): object[] {
    if (progress.text.length <= progress.sent) return [];
    const opened = openMessage();
    const delta = progress.text.slice(progress.sent);
    progress.sent = progress.text.length;
    return [...opened, event("response.output_text.delta", { item_id: progress.item!.id, output_index: 0, content_index: 0, delta, logprobs: [] })];
  }
}

function outputText(text: string) {
  return { type: "output_text" as const, text, annotations: [] as [], logprobs: [] as [] };
}

function responseUsage(usage: OpenAiUsage) {
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details.cached_tokens },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.total_tokens,
  };
}
