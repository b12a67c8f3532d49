// Chat messages (OpenAI's roles) to Gemma prompt ids. Gemma's chat template has no system role
// (its template raises on one), so leading system/developer messages are prepended to the first
// user message, separated by a blank line, which is what Gemma's own documentation recommends.
// A conversation the template cannot render is an InvalidRequestError naming the message.
import { ChatTemplateError, type ChatMessage, type Tokenizer } from "@gemma-ts/tokenizer";
import { InvalidRequestError } from "./errors.js";

/** One message as OpenAI's chat endpoint takes it: text, or a list of text parts. */
export interface ChatMessageInput {
  role: "system" | "developer" | "user" | "assistant";
  content: string | readonly { text: string }[];
}

export function chatPromptIds(tokenizer: Tokenizer, messages: readonly ChatMessageInput[]): number[] {
  const turns = toGemmaTurns(messages);
  let text: string;
  try {
    text = tokenizer.applyChatTemplate(turns, { addGenerationPrompt: true });
  } catch (error) {
    if (error instanceof ChatTemplateError) throw new InvalidRequestError("messages", `${error.message} (Gemma's chat format)`);
    throw error;
  }
  // The rendered text starts with <bos> itself, so no post-processor runs.
  return Array.from(tokenizer.encode(text, { addSpecialTokens: false }).ids);
}

/** Gemma's turns: system text folded into the first user turn; the last turn must be the user's. */
export function toGemmaTurns(messages: readonly ChatMessageInput[]): ChatMessage[] {
  const system: string[] = [];
  let index = 0;
  for (; index < messages.length && isSystem(messages[index]!); index++) system.push(textOf(messages[index]!));
  const turns: ChatMessage[] = [];
  for (let i = index; i < messages.length; i++) {
    const message = messages[i]!;
    if (isSystem(message)) throw new InvalidRequestError(`messages[${i}].role`, "system messages are only supported at the start of the conversation");
    turns.push({ role: message.role === "assistant" ? "assistant" : "user", content: textOf(message) });
  }
  if (system.length > 0) {
    const instructions = system.join("\n\n");
    const first = turns[0];
    if (first?.role === "user") first.content = `${instructions}\n\n${first.content}`;
    else turns.unshift({ role: "user", content: instructions });
  }
  if (turns.at(-1)?.role !== "user") throw new InvalidRequestError(`messages[${messages.length - 1}].role`, "the last message must have role 'user'");
  return turns;
}

function isSystem(message: ChatMessageInput): boolean {
  return message.role === "system" || message.role === "developer";
}

function textOf(message: ChatMessageInput): string {
  return typeof message.content === "string" ? message.content : message.content.map((part) => part.text).join("");
}
