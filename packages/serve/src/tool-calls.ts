// Reading tool calls out of a reply generated freely (tool_choice "auto"): the reply is a call
// when it is, whole, the JSON object of the calling convention (tool-prompt.ts), optionally in a
// ```json fence, naming declared functions with object arguments. Anything else is text. While
// streaming, text that could still become a call is held back (`couldBeCall`), so a client never
// sees half of a call as content.

export interface ParsedToolCall {
  name: string;
  /** The arguments object as JSON text, as OpenAI's tool_calls carry it. */
  arguments: string;
}

/** The calls a reply makes, or undefined when it is not (only) a call to declared functions. */
export function parseToolCalls(text: string, names: ReadonlySet<string>): ParsedToolCall[] | undefined {
  const body = unfenced(text.trim());
  if (!body.startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  // A bare {"name", "arguments"} object is how models most often slip; it means one call.
  const items = Array.isArray(value.tool_calls) ? value.tool_calls : "name" in value ? [value] : undefined;
  if (!items || items.length === 0) return undefined;
  const calls: ParsedToolCall[] = [];
  for (const item of items) {
    if (!isRecord(item) || typeof item.name !== "string" || !names.has(item.name)) return undefined;
    const args = typeof item.arguments === "string" ? parseObject(item.arguments) : (item.arguments ?? {});
    if (!isRecord(args)) return undefined;
    calls.push({ name: item.name, arguments: JSON.stringify(args) });
  }
  return calls;
}

/** Whether text streamed so far may still turn out to be a call (so it must be held back). */
export function couldBeCall(text: string): boolean {
  const start = text.trimStart();
  if (start.length === 0 || start.startsWith("{")) return true;
  const fence = "```json";
  return start.length < fence.length ? fence.startsWith(start) || "```".startsWith(start) : start.startsWith("```");
}

function unfenced(text: string): string {
  const match = /^```(?:json)?\s*\n?([\s\S]*?)\n?```$/.exec(text);
  return match ? match[1]!.trim() : text;
}

function parseObject(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
