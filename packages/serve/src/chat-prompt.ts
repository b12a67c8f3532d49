// OpenAI chat messages to Gemma prompt ids. Gemma's chat template has no system role (its
// template raises on one), so leading system/developer messages are prepended to the first user
// message, separated by a blank line, which is what Gemma's own documentation recommends.
import { ChatTemplateError, type ChatMessage, type Tokenizer } from "@gemma-ts/tokenizer";
import { invalidRequest } from "./errors.js";
import type { ChatMessageInput } from "./schemas.js";

export function chatPromptIds(tokenizer: Tokenizer, messages: readonly ChatMessageInput[]): number[] {
  const turns = toGemmaTurns(messages);
  let text: string;
  try {
    text = tokenizer.applyChatTemplate(turns, { addGenerationPrompt: true });
  } catch (error) {
    if (error instanceof ChatTemplateError) throw invalidRequest(`${error.message} (Gemma's chat format).`, "messages");
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
    if (isSystem(message)) throw invalidRequest("System messages are only supported at the start of the conversation.", `messages[${i}].role`);
    turns.push({ role: message.role === "assistant" ? "assistant" : "user", content: textOf(message) });
  }
  if (system.length > 0) {
    const instructions = system.join("\n\n");
    const first = turns[0];
    if (first?.role === "user") first.content = `${instructions}\n\n${first.content}`;
    else turns.unshift({ role: "user", content: instructions });
  }
  if (turns.at(-1)?.role !== "user") throw invalidRequest("The last message must have role 'user'.", `messages[${messages.length - 1}].role`);
  return turns;
}

function isSystem(message: ChatMessageInput): boolean {
  return message.role === "system" || message.role === "developer";
}

function textOf(message: ChatMessageInput): string {
  return typeof message.content === "string" ? message.content : message.content.map((part) => part.text).join("");
}
