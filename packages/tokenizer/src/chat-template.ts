// Gemma's chat format, rendered exactly as the `chat_template` of Gemma's tokenizer_config.json:
//   {{ bos_token }} then, per message, '<start_of_turn>' + role + '\n' + content|trim + '<end_of_turn>\n'
//   with 'assistant' renamed 'model', and '<start_of_turn>model\n' when a generation prompt is asked.
// The template rejects a system message and turns that do not alternate user/model, starting with
// user; so does this function, with a ChatTemplateError.
import { ChatTemplateError } from "./errors.js";

export type ChatRole = "user" | "assistant" | "model" | "system";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface ChatTemplateOptions {
  /** End with the opening of a model turn, for generation. Default false. */
  addGenerationPrompt?: boolean;
  /** The text rendered in front of the conversation; Gemma's is '<bos>'. */
  bosToken?: string;
}

export function renderGemmaChat(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
  if (messages[0]?.role === "system") throw new ChatTemplateError("System role not supported");
  let text = options.bosToken ?? "<bos>";
  messages.forEach((message, index) => {
    if ((message.role === "user") !== (index % 2 === 0)) {
      throw new ChatTemplateError("Conversation roles must alternate user/assistant/user/assistant/...");
    }
    const role = message.role === "assistant" ? "model" : message.role;
    text += `<start_of_turn>${role}\n${pythonStrip(message.content)}<end_of_turn>\n`;
  });
  if (options.addGenerationPrompt) text += "<start_of_turn>model\n";
  return text;
}

// Jinja's `trim` is Python's str.strip(), whose whitespace set differs from JavaScript's trim():
// Python also strips \x1c-\x1f and \x85, and keeps U+FEFF.
const PYTHON_WHITESPACE = "[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const PYTHON_STRIP = new RegExp(`^${PYTHON_WHITESPACE}+|${PYTHON_WHITESPACE}+$`, "g");

function pythonStrip(text: string): string {
  return text.replace(PYTHON_STRIP, "");
}
