// The body of POST /v1/responses as the openai SDK's `responses.create` sends it, and its
// translation to what chat completions run on: `input` (a string, or a list of messages and of
// function_call / function_call_output items) and `instructions` as chat messages, function tools
// (flat: {type, name, parameters}) as declared functions, `text.format` as a response_format.
// What stays unsupported (other tool types, image or file inputs, reasoning) is a 400 naming it.
import { z } from "zod";
import type { ChatMessageInput } from "../chat-prompt.js";
import { REQUEST_LIMITS, type RequestLimit } from "../request-limits.js";
import type { ToolCallInput } from "../tool-prompt.js";
import { checkedFunction } from "./chat-tools.js";
import { invalidRequest } from "./errors.js";
import { functionDefinition, parseAt, type ResponseFormatInput } from "./schemas.js";
import { resolveTools, type ToolSetup } from "./tool-setup.js";

function limited(limit: RequestLimit) {
  const base = limit.integer ? z.int() : z.number();
  return (limit.minExclusive ? base.gt(limit.min) : base.min(limit.min)).max(limit.max);
}

const textFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    name: z.string().min(1).max(64),
    description: z.string().nullish(),
    schema: z.record(z.string(), z.unknown()),
    strict: z.boolean().nullish(),
  }),
]);

const toolChoice = z.union([z.enum(["none", "auto", "required"]), z.object({ type: z.string(), name: z.string().nullish() })]);

export const responsesRequest = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.unknown())]),
  instructions: z.string().nullish(),
  max_output_tokens: limited(REQUEST_LIMITS.maxTokens).nullish(),
  temperature: limited(REQUEST_LIMITS.temperature).nullish(),
  top_p: limited(REQUEST_LIMITS.topP).nullish(),
  /** Not in OpenAI's Responses API; accepted as chat completions take it, for reproducible runs. */
  seed: limited(REQUEST_LIMITS.seed).nullish(),
  stream: z.boolean().nullish(),
  text: z.object({ format: textFormat.nullish() }).nullish(),
  tools: z.array(z.unknown()).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  store: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().nullish(),
  truncation: z.enum(["auto", "disabled"]).nullish(),
  /** Present so that asking for them is an error rather than silently ignored. */
  reasoning: z.object({ effort: z.string().nullish() }).passthrough().nullish(),
  top_logprobs: z.int().min(0).nullish(),
  background: z.boolean().nullish(),
});

export type ResponsesRequest = z.infer<typeof responsesRequest>;

/** What this server cannot do of a valid body: a 400 naming the field. */
export function rejectUnsupportedResponseFields(body: ResponsesRequest): void {
  if (body.reasoning?.effort != null) throw invalidRequest("'reasoning' is not supported by this server: the model does not reason before answering.", "reasoning", "unsupported_parameter");
  if (body.top_logprobs) throw invalidRequest("'top_logprobs' is not supported on /v1/responses by this server; use /v1/chat/completions.", "top_logprobs", "unsupported_parameter");
  if (body.background === true) throw invalidRequest("'background' is not supported by this server.", "background", "unsupported_parameter");
}

/** `text.format` as chat completions' response_format. */
export function responseFormatOf(body: ResponsesRequest): ResponseFormatInput | undefined {
  const format = body.text?.format;
  if (format?.type !== "json_schema") return format ?? undefined;
  return { type: "json_schema", json_schema: { name: format.name, schema: format.schema, strict: format.strict } };
}

/** The function tools and the choice among them. */
export function responseToolSetup(body: ResponsesRequest, template: string | undefined): ToolSetup {
  const declared = (body.tools ?? []).map((tool, i) => {
    const param = `tools[${i}]`;
    if (tool === null || typeof tool !== "object" || Array.isArray(tool)) throw invalidRequest(`Invalid value for '${param}': expected a tool object.`, param, "invalid_value");
    const type = (tool as { type?: unknown }).type;
    if (type !== "function") {
      const shown = typeof type === "string" ? `'${type.slice(0, 64)}'` : "missing";
      throw invalidRequest(`Tool type ${shown} is not supported by this server; only 'function' tools are.`, `${param}.type`, "unsupported_parameter");
    }
    return { tool: checkedFunction(parseAt(functionDefinition, tool, param), param), param };
  });
  const choice = body.tool_choice;
  if (typeof choice === "object" && choice !== null && (choice.type !== "function" || !choice.name)) {
    throw invalidRequest(`Invalid value for 'tool_choice': only {"type": "function", "name": ...} is supported, got type '${choice.type.slice(0, 64)}'.`, "tool_choice", "unsupported_parameter");
  }
  const resolved = choice == null ? undefined : typeof choice === "string" ? choice : { name: choice.name! };
  return resolveTools(declared, resolved, body.parallel_tool_calls ?? undefined, template);
}

const inputMessage = z.object({
  type: z.literal("message").nullish(),
  role: z.enum(["user", "system", "developer", "assistant"]),
  content: z.union([z.string(), z.array(z.object({ type: z.string(), text: z.string().nullish() }))]),
});
const functionCall = z.object({ type: z.literal("function_call"), call_id: z.string().min(1), name: z.string().min(1), arguments: z.string() });
const functionCallOutput = z.object({
  type: z.literal("function_call_output"),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(z.object({ type: z.string(), text: z.string().nullish() }))]),
});

/** `input` as chat messages; consecutive function_call items join one assistant message. */
export function inputMessages(input: ResponsesRequest["input"]): ChatMessageInput[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  if (input.length === 0) throw invalidRequest("Invalid value for 'input': expected at least one item.", "input", "invalid_value");
  const messages: ChatMessageInput[] = [];
  input.forEach((item, i) => {
    const param = `input[${i}]`;
    const type = item !== null && typeof item === "object" ? (item as { type?: unknown }).type : undefined;
    if (type === "function_call") {
      const call = parseAt(functionCall, item, param);
      const entry: ToolCallInput = { id: call.call_id, name: call.name, arguments: call.arguments };
      const last = messages.at(-1);
      if (last?.role === "assistant" && last.tool_calls) (last.tool_calls as ToolCallInput[]).push(entry);
      else if (last?.role === "assistant") last.tool_calls = [entry];
      else messages.push({ role: "assistant", content: null, tool_calls: [entry] });
    } else if (type === "function_call_output") {
      const result = parseAt(functionCallOutput, item, param);
      messages.push({ role: "tool", tool_call_id: result.call_id, content: typeof result.output === "string" ? result.output : partsText(result.output, `${param}.output`) });
    } else if (type === undefined || type === null || type === "message") {
      const message = parseAt(inputMessage, item, param);
      messages.push({ role: message.role, content: typeof message.content === "string" ? message.content : partsText(message.content, `${param}.content`) });
    } else {
      throw invalidRequest(`Input items of type '${String(type).slice(0, 64)}' are not supported by this server; use messages, function_call and function_call_output.`, `${param}.type`, "unsupported_parameter");
    }
  });
  return messages;
}

/** Text parts only: input_text (and output_text, in replayed assistant messages). */
function partsText(parts: readonly { type: string; text?: string | null | undefined }[], param: string): string {
  return parts
    .map((part, i) => {
      if ((part.type === "input_text" || part.type === "output_text") && typeof part.text === "string") return part.text;
      throw invalidRequest(`Content parts of type '${part.type.slice(0, 64)}' are not supported by this server; only input_text is.`, `${param}[${i}].type`, "unsupported_parameter");
    })
    .join("");
}
