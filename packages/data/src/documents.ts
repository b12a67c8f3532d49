// A document is the unit the pipeline tokenizes, splits and shuffles: a plain text, or a chat whose
// assistant turns are what SFT trains on. JSONL lines and Parquet rows become documents through
// documentFromRecord, one rule for both formats so the same data gives the same shards.
import { ChatTemplateError, renderGemmaChat, type ChatMessage, type ChatRole } from "@gemma-ts/tokenizer";

export interface TextDocument {
  text: string;
}

export interface ChatDocument {
  messages: ChatMessage[];
}

export type Document = TextDocument | ChatDocument;

export function isChatDocument(document: Document): document is ChatDocument {
  return "messages" in document;
}

const ROLES: ReadonlySet<string> = new Set<ChatRole>(["user", "assistant", "model", "system"]);

/**
 * The document a record holds, or the problem with it. A record with a `messages` field (an array,
 * or a JSON string of one, as some Parquet exports store it) is a chat; otherwise its `text` must be
 * a string. Other fields are ignored. Chats are checked against the Gemma chat template here, so the
 * error names the line or row rather than surfacing later during tokenization.
 */
export function documentFromRecord(record: unknown): Document | { problem: string } {
  if (record === null || typeof record !== "object" || Array.isArray(record)) {
    return { problem: `expected an object with "text" or "messages", got ${describe(record)}` };
  }
  const fields = record as Record<string, unknown>;
  if (fields["messages"] !== undefined && fields["messages"] !== null) return chatFromValue(fields["messages"]);
  if (typeof fields["text"] === "string") return { text: fields["text"] };
  if ("text" in fields) return { problem: `"text" must be a string, got ${describe(fields["text"])}` };
  return { problem: `expected a "text" string or a "messages" array (fields: ${Object.keys(fields).join(", ") || "none"})` };
}

function chatFromValue(value: unknown): ChatDocument | { problem: string } {
  let list = value;
  if (typeof list === "string") {
    try {
      list = JSON.parse(list);
    } catch {
      return { problem: `"messages" is a string that is not JSON` };
    }
  }
  if (!Array.isArray(list)) return { problem: `"messages" must be an array, got ${describe(list)}` };
  const messages: ChatMessage[] = [];
  for (let i = 0; i < list.length; i++) {
    const message = list[i] as Record<string, unknown> | null;
    if (message === null || typeof message !== "object") return { problem: `messages[${i}] must be an object, got ${describe(message)}` };
    const { role, content } = message;
    if (typeof role !== "string" || !ROLES.has(role)) {
      return { problem: `messages[${i}].role must be one of ${[...ROLES].join(", ")}, got ${describe(role)}` };
    }
    if (typeof content !== "string") return { problem: `messages[${i}].content must be a string, got ${describe(content)}` };
    messages.push({ role: role as ChatRole, content });
  }
  try {
    renderGemmaChat(messages);
  } catch (error) {
    if (error instanceof ChatTemplateError) return { problem: `"messages": ${error.message}` };
    throw error;
  }
  return { messages };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "bytes";
  return typeof value === "string" ? `the string ${JSON.stringify(value.slice(0, 40))}` : typeof value;
}
