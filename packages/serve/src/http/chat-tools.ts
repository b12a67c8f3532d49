// The tools of a chat completions body, {type: "function", function: {name, description,
// parameters, strict}}, as declared functions: any other tool type is a 400 naming it, and a
// parameters schema nested past the limits is refused before anything walks it.
import { checkSchemaDocument } from "../json-schema.js";
import { fromServeError, invalidRequest } from "./errors.js";
import { functionDefinition, parseAt, type ChatCompletionRequest } from "./schemas.js";
import { resolveTools, type DeclaredTool, type ToolChoice, type ToolSetup } from "./tool-setup.js";

export function chatToolSetup(body: ChatCompletionRequest, template: string | undefined): ToolSetup {
  const declared = (body.tools ?? []).map((tool, i) => declaredTool(tool, `tools[${i}]`));
  const choice = body.tool_choice;
  const resolved: ToolChoice | undefined = choice == null ? undefined : typeof choice === "string" ? choice : { name: choice.function.name };
  return resolveTools(declared, resolved, body.parallel_tool_calls ?? undefined, template);
}

/** One element of `tools`; `param` is where it sits ("tools[2]"). */
function declaredTool(tool: unknown, param: string): DeclaredTool {
  if (tool === null || typeof tool !== "object" || Array.isArray(tool)) throw invalidRequest(`Invalid value for '${param}': expected a tool object.`, param, "invalid_value");
  const type = (tool as { type?: unknown }).type;
  if (type !== "function") {
    const shown = typeof type === "string" ? `'${type.slice(0, 64)}'` : "missing";
    throw invalidRequest(`Tool type ${shown} is not supported by this server; only 'function' tools are.`, `${param}.type`, "unsupported_parameter");
  }
  const definition = parseAt(functionDefinition, (tool as { function?: unknown }).function, `${param}.function`);
  return { tool: checkedFunction(definition, `${param}.function`), param: `${param}.function` };
}

/** A declared function with its parameters bounded (they are rendered into the prompt as JSON). */
export function checkedFunction(definition: { name: string; description?: string | null | undefined; parameters?: Record<string, unknown> | null | undefined }, param: string) {
  if (definition.parameters) {
    try {
      checkSchemaDocument(definition.parameters);
    } catch (error) {
      const mapped = fromServeError(error);
      throw mapped ? invalidRequest(mapped.message, `${param}.parameters`, "unsupported_schema") : error;
    }
  }
  return {
    name: definition.name,
    ...(definition.description ? { description: definition.description } : {}),
    ...(definition.parameters ? { parameters: definition.parameters } : {}),
  };
}
