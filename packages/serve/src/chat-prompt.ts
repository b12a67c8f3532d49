// Chat messages (OpenAI's roles) to Gemma prompt ids. Gemma's chat template has no system role
// (its template raises on one), so leading system/developer messages are prepended to the first
// user message, separated by a blank line, which is what Gemma's own documentation recommends.
// Tools (tool-prompt.ts) go there too: the tool block after the system text. An assistant turn
// that called tools is rendered as the call JSON the model writes; `tool` messages, which Gemma
// has no role for either, become one user turn of results (a user message right after them joins
// that turn, so turns still alternate). A conversation the template cannot render is an
// InvalidRequestError naming the message.
import { ChatTemplateError, type ChatMessage, type Tokenizer } from "@gemma-ts/tokenizer";
import { InvalidRequestError } from "./errors.js";
import { renderToolCalls, renderToolPrompt, renderToolResults, type ToolCallInput, type ToolFunction, type ToolRules } from "./tool-prompt.js";

type Content = string | readonly { text: string }[];

/** One message as OpenAI's chat endpoint takes it: text, or a list of text parts. */
export interface ChatMessageInput {
  role: "system" | "developer" | "user" | "assistant" | "tool";
  /** May be null or absent only on an assistant message that calls tools. */
  content?: Content | null | undefined;
  /** An assistant message's calls. */
  tool_calls?: readonly ToolCallInput[] | null | undefined;
  /** A tool message: the call it answers. */
  tool_call_id?: string | null | undefined;
}

export interface ChatPromptOptions {
  /** Tools the model may call, with the rules of choosing; rendered into the first user turn. */
  tools?: { functions: readonly ToolFunction[]; rules: ToolRules; template?: string | undefined } | undefined;
}

export function chatPromptIds(tokenizer: Tokenizer, messages: readonly ChatMessageInput[], options: ChatPromptOptions = {}): number[] {
  // The rendered text starts with <bos> itself, so no post-processor runs.
  return Array.from(tokenizer.encode(chatPromptText(tokenizer, messages, options), { addSpecialTokens: false }).ids);
}

/** The prompt as text, special tokens spelled out, before tokenizing. */
export function chatPromptText(tokenizer: Tokenizer, messages: readonly ChatMessageInput[], options: ChatPromptOptions = {}): string {
  const turns = toGemmaTurns(messages, options);
  try {
    return tokenizer.applyChatTemplate(turns, { addGenerationPrompt: true });
  } catch (error) {
    if (error instanceof ChatTemplateError) throw new InvalidRequestError("messages", `${error.message} (Gemma's chat format)`);
    throw error;
  }
}

/** Gemma's turns: system text and tools folded into the first user turn; the last turn must be the user's. */
export function toGemmaTurns(messages: readonly ChatMessageInput[], options: ChatPromptOptions = {}): ChatMessage[] {
  const system: string[] = [];
  let index = 0;
  for (; index < messages.length && isSystem(messages[index]!); index++) system.push(textOf(messages[index]!, index));
  if (options.tools && options.tools.functions.length > 0) system.push(renderToolPrompt(options.tools.functions, options.tools.rules, options.tools.template));
  const turns: ChatMessage[] = [];
  /** Names of the calls made so far, by id, so a result can say which function it answers. */
  const callNames = new Map<string, string>();
  /** Whether the last turn is tool results, which a user message may join. */
  let openResults = false;
  for (let i = index; i < messages.length; i++) {
    const message = messages[i]!;
    if (isSystem(message)) throw new InvalidRequestError(`messages[${i}].role`, "system messages are only supported at the start of the conversation");
    if (message.role === "tool") {
      const results: { name: string | undefined; callId: string; content: string }[] = [];
      for (; i < messages.length && messages[i]!.role === "tool"; i++) results.push(toolResult(messages[i]!, i, turns.at(-1), callNames));
      i--;
      turns.push({ role: "user", content: renderToolResults(results) });
      openResults = true;
      continue;
    }
    if (message.role === "assistant") {
      turns.push({ role: "assistant", content: assistantText(message, i, callNames) });
    } else if (openResults) {
      turns.at(-1)!.content += `\n\n${textOf(message, i)}`;
    } else {
      turns.push({ role: "user", content: textOf(message, i) });
    }
    openResults = false;
  }
  if (system.length > 0) {
    const instructions = system.join("\n\n");
    const first = turns[0];
    if (first?.role === "user") first.content = `${instructions}\n\n${first.content}`;
    else turns.unshift({ role: "user", content: instructions });
  }
  if (turns.at(-1)?.role !== "user") throw new InvalidRequestError(`messages[${messages.length - 1}].role`, "the last message must have role 'user' or 'tool'");
  return turns;
}

function assistantText(message: ChatMessageInput, index: number, callNames: Map<string, string>): string {
  const calls = message.tool_calls ?? [];
  const text = message.content == null && calls.length > 0 ? "" : textOf(message, index);
  if (calls.length === 0) return text;
  for (const call of calls) callNames.set(call.id, call.name);
  const rendered = renderToolCalls(calls);
  return text.length > 0 ? `${text}\n${rendered}` : rendered;
}

function toolResult(message: ChatMessageInput, index: number, previous: ChatMessage | undefined, callNames: Map<string, string>) {
  if (previous?.role !== "assistant" || callNames.size === 0) {
    throw new InvalidRequestError(`messages[${index}].role`, "a 'tool' message must follow an assistant message with 'tool_calls'");
  }
  const callId = message.tool_call_id;
  if (typeof callId !== "string" || callId.length === 0) throw new InvalidRequestError(`messages[${index}].tool_call_id`, "a 'tool' message needs the 'tool_call_id' of the call it answers");
  return { name: callNames.get(callId), callId, content: textOf(message, index) };
}

function isSystem(message: ChatMessageInput): boolean {
  return message.role === "system" || message.role === "developer";
}

function textOf(message: ChatMessageInput, index: number): string {
  const content = message.content;
  if (content == null) throw new InvalidRequestError(`messages[${index}].content`, `a '${message.role}' message needs content`);
  return typeof content === "string" ? content : content.map((part) => part.text).join("");
}
