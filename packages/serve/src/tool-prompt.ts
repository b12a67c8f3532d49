// How tools reach Gemma 2, which has no tool tokens: the tool list and the calling convention are
// text in the first user turn (beside any system text), a call is the model answering with one
// JSON object, {"tool_calls": [{"name": ..., "arguments": {...}}]}, and tool results go back as
// a user turn holding {"tool_results": [...]}. The calling convention is fixed (the reply parser
// and the constrained decoder depend on it); the words around it are a template a server may
// replace (`toolPromptTemplate`), with placeholders {{tools}} and {{rules}}.

/** A function tool as the request declared it. */
export interface ToolFunction {
  name: string;
  description?: string | undefined;
  /** The JSON Schema of the arguments object; absent means no arguments. */
  parameters?: Record<string, unknown> | undefined;
}

/** A call in a conversation: `arguments` is the JSON text, as OpenAI's messages carry it. */
export interface ToolCallInput {
  id: string;
  name: string;
  arguments: string;
}

/** What the model is told about choosing: auto, required, a named function; at most one call or several. */
export interface ToolRules {
  choice: "auto" | "required" | { name: string };
  parallel: boolean;
}

/**
 * The default template. {{tools}}: one JSON object per tool ({"name", "description",
 * "parameters"}); {{rules}}: a sentence per rule of the request's tool_choice and
 * parallel_tool_calls.
 */
export const DEFAULT_TOOL_PROMPT_TEMPLATE = [
  "You can call these functions (their arguments are described by JSON Schema):",
  "{{tools}}",
  "",
  "To call functions, answer with only this JSON object and nothing else:",
  '{"tool_calls": [{"name": "<function name>", "arguments": {<arguments>}}]}',
  "The results come back in a message holding {\"tool_results\": [...]}. {{rules}}",
].join("\n");

/** Opens every call reply; the constrained decoder's forced prefix starts with it. */
export const CALL_OPENING = '{"tool_calls": [{"name": ';
/** Between a call's name and its arguments. */
export const CALL_ARGUMENTS = ', "arguments": ';

/** The tool block for the first user turn: the template with its placeholders filled. */
export function renderToolPrompt(tools: readonly ToolFunction[], rules: ToolRules, template = DEFAULT_TOOL_PROMPT_TEMPLATE): string {
  const list = tools.map((tool) => JSON.stringify({ name: tool.name, ...(tool.description ? { description: tool.description } : {}), parameters: tool.parameters ?? { type: "object", properties: {} } }));
  return template.replaceAll("{{tools}}", list.join("\n")).replaceAll("{{rules}}", ruleText(rules));
}

function ruleText(rules: ToolRules): string {
  const sentences: string[] = [];
  if (rules.choice === "auto") sentences.push("Call a function only when it helps; otherwise answer in plain text.");
  else if (rules.choice === "required") sentences.push("You must call a function.");
  else sentences.push(`You must call the function ${JSON.stringify(rules.choice.name)}.`);
  sentences.push(rules.parallel ? "You may call several functions at once." : "Call at most one function at a time.");
  return sentences.join(" ");
}

/** An assistant turn that called tools, as the model would have written it. */
export function renderToolCalls(calls: readonly ToolCallInput[]): string {
  const items = calls.map((call) => `{"name": ${JSON.stringify(call.name)}, "arguments": ${argumentsText(call.arguments)}}`);
  return `{"tool_calls": [${items.join(", ")}]}`;
}

/** Tool results (consecutive `tool` messages) as one user turn's text. */
export function renderToolResults(results: readonly { name: string | undefined; callId: string; content: string }[]): string {
  return JSON.stringify({ tool_results: results.map((result) => ({ tool_call_id: result.callId, ...(result.name ? { name: result.name } : {}), content: result.content })) });
}

/**
 * Arguments as given when they are JSON (never re-serialized: a client's text may nest past what
 * JSON.stringify's recursion survives); as a JSON string otherwise.
 */
function argumentsText(text: string): string {
  try {
    JSON.parse(text);
    return text.trim();
  } catch {
    return JSON.stringify(text);
  }
}
