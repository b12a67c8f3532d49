// A forced tool call (tool_choice "required" or a named function) as constrained decoding. The
// constrained decoder tells anyOf branches apart by their first byte, which every call object
// shares ("{"), so a call is not decoded as one schema but in steps that each have one: the
// call's opening is forced (appended to the prompt), the function's name is decoded under
// {"enum": [names]} when several are allowed (written into the prompt when one is), then the
// arguments under the function's parameters schema. The steps run as engine requests, each
// prompt extending the last, so the engine's prefix reuse makes the later ones cheap. What
// streams back is the arguments' text, its first chunk marked with the call's id and name.
import { randomBytes } from "node:crypto";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { InvalidRequestError } from "../errors.js";
import { CALL_ARGUMENTS, CALL_OPENING, type ToolFunction } from "../tool-prompt.js";
import type { CompletionChunk, CompletionRequest, CompletionUsage } from "../types.js";
import type { ServingEngine } from "./served-model.js";
import { parametersSchema } from "./tool-setup.js";

/** A chunk of a choice's output; `toolCall` marks the first chunk of a call's arguments. */
export interface ToolCallChunk extends CompletionChunk {
  toolCall?: { id: string; name: string };
}

export interface ChoiceCompletion {
  chunks: AsyncIterable<ToolCallChunk>;
  usage: Promise<CompletionUsage>;
}

/** How a plan runs one choice's engine request (default: engine.complete). */
export type Completer = (engine: Pick<ServingEngine, "complete">, request: CompletionRequest) => ChoiceCompletion;

/** OpenAI's tool-call ids: call_ and random characters. */
export function toolCallId(): string {
  return `call_${randomBytes(12).toString("hex")}`;
}

export function forcedCall(tokenizer: Tokenizer, candidates: readonly ToolFunction[]): Completer {
  const encode = (text: string) => Array.from(tokenizer.encode(text, { addSpecialTokens: false }).ids);
  const opening = encode(CALL_OPENING);
  const between = encode(CALL_ARGUMENTS);
  const names = candidates.map((tool) => tool.name);
  // One token per byte at most: the budget that always fits the longest name, quotes included.
  const nameBudget = Math.max(...names.map((name) => new TextEncoder().encode(JSON.stringify(name)).length));

  return (engine, request) => {
    let settle!: { resolve: (usage: CompletionUsage) => void; reject: (error: unknown) => void };
    const usage = new Promise<CompletionUsage>((resolve, reject) => (settle = { resolve, reject }));
    usage.catch(() => {}); // the chunks report the failure; an unread usage is no unhandled rejection
    // Logprobs are not reported for calls (OpenAI's are null there), and stop strings would cut the JSON.
    const { topLogprobs: _logprobs, stop: _stop, ...base } = request;
    async function* run(): AsyncGenerator<ToolCallChunk> {
      try {
        const ids = [...request.promptIds, ...opening];
        let name: string;
        let nameIds: number[] = [];
        let cachedTokens: number | undefined;
        if (candidates.length === 1) {
          name = candidates[0]!.name;
          nameIds = encode(JSON.stringify(name));
        } else {
          const step = engine.complete({ ...base, promptIds: ids, maxTokens: Math.min(nameBudget, request.maxTokens - opening.length), responseFormat: { type: "json_schema", schema: { enum: names } } });
          let text = "";
          for await (const chunk of step.chunks) {
            text += chunk.text;
            nameIds.push(...chunk.tokenIds);
          }
          cachedTokens = (await step.usage).cachedTokens;
          name = JSON.parse(text) as string;
        }
        ids.push(...nameIds, ...between);
        const forced = ids.length - request.promptIds.length;
        const budget = request.maxTokens - forced;
        if (budget < 1) throw new InvalidRequestError("maxTokens", `${request.maxTokens} tokens cannot hold a call to '${name}' (its name and the call's JSON take ${forced})`);
        const tool = candidates.find((candidate) => candidate.name === name)!;
        const step = engine.complete({ ...base, promptIds: ids, maxTokens: budget, responseFormat: { type: "json_schema", schema: parametersSchema(tool) } });
        let first = true;
        for await (const chunk of step.chunks) {
          // The first chunk carries the forced ids too, so token timing sees them.
          yield first ? { ...chunk, tokenIds: [...nameIds, ...chunk.tokenIds], toolCall: { id: toolCallId(), name } } : chunk;
          first = false;
        }
        const argsUsage = await step.usage;
        settle.resolve({
          promptTokens: request.promptIds.length,
          completionTokens: forced + argsUsage.completionTokens,
          cachedTokens: cachedTokens ?? Math.min(argsUsage.cachedTokens, request.promptIds.length),
        });
      } catch (error) {
        settle.reject(error);
        throw error;
      }
    }
    return { chunks: run(), usage };
  };
}
