// Runs the n choices of one request on the engine side by side (the engine batches them) and
// hands every chunk to a callback as it arrives, tagged with its choice index. One failing choice
// aborts the others, and the usage promises are always awaited, so nothing rejects unobserved.
import type { CompletionChunk, CompletionRequest, CompletionUsage } from "../types.js";
import type { ToolCallChunk } from "./forced-call.js";

/** What runs a choice: the engine, or a plan's composition of engine requests. */
export interface ChoiceRunner {
  complete(request: CompletionRequest): { chunks: AsyncIterable<ToolCallChunk>; usage: Promise<CompletionUsage> };
}

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export type ChunkHandler = (index: number, chunk: ToolCallChunk) => void | Promise<void>;

/**
 * Streams every choice through `onChunk`; resolves to the summed usage when all have ended.
 * `n`: choices per prompt (consecutive choices share a prompt); default all of them.
 */
export async function runChoices(
  engine: ChoiceRunner,
  requests: readonly CompletionRequest[],
  abortAll: () => void,
  onChunk: ChunkHandler,
  n = requests.length,
): Promise<OpenAiUsage> {
  const usages = await Promise.all(
    requests.map(async (request, index) => {
      try {
        const { chunks, usage } = engine.complete(request);
        usage.catch(() => {}); // observed below, or moot when the chunks failed first
        for await (const chunk of chunks) await onChunk(index, chunk);
        return await usage;
      } catch (error) {
        abortAll(); // the request has failed as a whole; free the other choices' slots
        throw error;
      }
    }),
  );
  return openAiUsage(usages, n);
}

/**
 * Each prompt is counted once (as OpenAI bills n choices), its cached tokens those of its first
 * choice; completions are summed. `n`: choices per prompt.
 */
export function openAiUsage(usages: readonly CompletionUsage[], n = usages.length): OpenAiUsage {
  let prompt = 0;
  let cached = 0;
  for (let first = 0; first < usages.length; first += Math.max(1, n)) {
    prompt += usages[first]!.promptTokens;
    cached += Math.min(usages[first]!.promptTokens, usages[first]!.cachedTokens);
  }
  const completion = usages.reduce((sum, usage) => sum + usage.completionTokens, 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

/** A choice's chunks gathered into its whole text, for non-streamed responses. */
export interface CollectedChoice {
  text: string;
  finishReason: "stop" | "length";
  logprobs: NonNullable<CompletionChunk["logprobs"]>;
  /** The scored prompt, when the request asked for it. */
  promptLogprobs?: NonNullable<CompletionChunk["promptLogprobs"]>;
  /** Every id generated (stop tokens included). */
  tokenIds: number[];
  /** A forced tool call: `text` is its arguments. */
  toolCall?: { id: string; name: string };
}

/** `observe`, when given, sees every chunk as it arrives (the metrics' token timing). */
export async function collectChoices(
  engine: ChoiceRunner,
  requests: readonly CompletionRequest[],
  abortAll: () => void,
  observe?: (index: number, chunk: CompletionChunk) => void,
  n = requests.length,
): Promise<{ choices: CollectedChoice[]; usage: OpenAiUsage }> {
  const choices: CollectedChoice[] = requests.map(() => ({ text: "", finishReason: "stop", logprobs: [], tokenIds: [] }));
  const usage = await runChoices(engine, requests, abortAll, (index, chunk) => {
    observe?.(index, chunk);
    const choice = choices[index]!;
    choice.text += chunk.text;
    choice.tokenIds.push(...chunk.tokenIds);
    if (chunk.logprobs) choice.logprobs.push(...chunk.logprobs);
    if (chunk.promptLogprobs) choice.promptLogprobs = chunk.promptLogprobs;
    if (chunk.toolCall) choice.toolCall = chunk.toolCall;
    if (chunk.finishReason) choice.finishReason = chunk.finishReason;
  }, n);
  return { choices, usage };
}
