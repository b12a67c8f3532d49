// A request's tools and tool_choice, resolved once for both endpoints that take them (chat
// completions: {type, function: {...}}; responses: {type, name, ...}, each normalized by its
// endpoint): which functions the prompt lists, whether the reply is free (none, auto: parsed
// afterwards) or a forced call (required, a named function: constrained decoding), and at most
// one call or several. The parameter schemas of the functions a call may be forced to are
// compiled here, so one the constrained decoder cannot enforce is a 400 naming the tool.
import { UnsupportedSchemaError } from "../errors.js";
import { compileSchema } from "../json-schema.js";
import { REQUEST_LIMITS } from "../request-limits.js";
import type { ChatPromptOptions } from "../chat-prompt.js";
import type { ToolFunction } from "../tool-prompt.js";
import { invalidRequest } from "./errors.js";

export type ToolChoice = "none" | "auto" | "required" | { name: string };

export interface ToolSetup {
  /** "free": the model may answer in text or call (auto); "forced": it calls one of `candidates`. */
  mode: "none" | "free" | "forced";
  functions: readonly ToolFunction[];
  /** The functions a forced call picks from (one for a named choice). */
  candidates: readonly ToolFunction[];
  /** Several calls in one reply (parallel_tool_calls, default true). */
  parallel: boolean;
  /** What chatPromptIds renders; undefined when the prompt lists no tools (none, or no tools). */
  prompt: ChatPromptOptions["tools"];
}

/** A function the wire named, and where: for error params ("tools[2]" or "tools[2].function"). */
export interface DeclaredTool {
  tool: ToolFunction;
  param: string;
}

export const NO_TOOLS: ToolSetup = { mode: "none", functions: [], candidates: [], parallel: true, prompt: undefined };

export function resolveTools(declared: readonly DeclaredTool[], choice: ToolChoice | undefined, parallel: boolean | undefined, template: string | undefined): ToolSetup {
  if (declared.length > REQUEST_LIMITS.tools.max) throw invalidRequest(`Invalid value for 'tools': expected at most ${REQUEST_LIMITS.tools.max} tools, got ${declared.length}.`, "tools", "invalid_value");
  const seen = new Set<string>();
  for (const { tool, param } of declared) {
    if (seen.has(tool.name)) throw invalidRequest(`Invalid value for '${param}.name': the function name '${tool.name}' is declared twice.`, `${param}.name`, "invalid_value");
    seen.add(tool.name);
  }
  const functions = declared.map((entry) => entry.tool);
  const resolved = choice ?? (functions.length > 0 ? "auto" : "none");
  if (typeof resolved === "object" && !seen.has(resolved.name)) {
    throw invalidRequest(`Invalid value for 'tool_choice': no function named '${resolved.name}' is declared in 'tools'.`, "tool_choice", "invalid_value");
  }
  if (resolved !== "none" && resolved !== "auto" && functions.length === 0) {
    throw invalidRequest("Invalid value for 'tool_choice': a required or named tool choice needs 'tools'.", "tool_choice", "invalid_value");
  }
  // vLLM's default too: with tool_choice none the model is not shown the tools it may not call.
  if (resolved === "none" || functions.length === 0) return { ...NO_TOOLS, parallel: parallel ?? true };
  const candidates = typeof resolved === "object" ? functions.filter((tool) => tool.name === resolved.name) : resolved === "required" ? functions : [];
  for (const tool of candidates) checkParameters(tool, declared.find((entry) => entry.tool === tool)!.param);
  const rules = { choice: resolved === "required" || typeof resolved === "object" ? resolved : ("auto" as const), parallel: parallel ?? true };
  return { mode: candidates.length > 0 ? "forced" : "free", functions, candidates, parallel: rules.parallel, prompt: { functions, rules, template } };
}

/** The schema a forced call's arguments are decoded under: the declared one, or an empty object. */
export function parametersSchema(tool: ToolFunction): Record<string, unknown> {
  return tool.parameters ?? { type: "object", properties: {}, additionalProperties: false };
}

function checkParameters(tool: ToolFunction, param: string): void {
  try {
    compileSchema(parametersSchema(tool));
  } catch (error) {
    if (error instanceof UnsupportedSchemaError) throw invalidRequest(`'${param}.parameters' cannot be enforced for a forced call: ${error.message}`, `${param}.parameters`, "unsupported_schema");
    throw error;
  }
}
