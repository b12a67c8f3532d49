// POST /v1/completions, OpenAI's legacy text endpoint: each prompt (a string after <bos>, or token
// ids as given) answered as a `text_completion` object or, streamed, as `text_completion` events
// whose last one per choice carries the finish_reason; n choices per prompt, prompt-major.
// `logprobs` here is a count of alternatives, reported as parallel arrays. With `echo` the text
// starts with the prompt and, with logprobs, the arrays cover the prompt's tokens first (the first
// one null: nothing precedes it); streamed, the echo comes in the choice's first event. `echo`
// with max_tokens 0 scores the prompt and generates nothing (a distillation teacher's request).
// vLLM's `prompt_logprobs: k` adds, per choice, each prompt token's log-probability and rank.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { PromptTokenLogprob } from "../types.js";
import { planGeneration } from "./generation-plan.js";
import type { HandlerContext } from "./handler-context.js";
import { completionLogprobs, concatLogprobs, TextOffsets, vllmPromptLogprobs, type CompletionLogprobs } from "./logprobs.js";
import { handleGeneration } from "./generation-handler.js";
import { parsePrompts, resolvePrompt, type Prompt } from "./prompts.js";
import type { ResponseMeta, Wire } from "./respond.js";
import { completionRequest, parseBody, type CompletionRequestBody } from "./schemas.js";

/** What a request asked to see besides the generated text. */
interface Extras {
  /** Alternatives per token in `logprobs`; undefined when not asked for. */
  logprobs: number | undefined;
  echo: boolean;
  /** vLLM's prompt_logprobs; undefined when not asked for. */
  promptLogprobs: number | undefined;
}

export async function completions(context: HandlerContext, request: FastifyRequest, reply: FastifyReply): Promise<object | undefined> {
  const body = parseBody(completionRequest, request.body);
  const inputs = parsePrompts(body.prompt);
  const extras: Extras = { logprobs: body.logprobs ?? undefined, echo: body.echo === true, promptLogprobs: body.prompt_logprobs ?? undefined };
  return handleGeneration(context, request, reply, body, (model, includeUsage) => {
    const prompts = inputs.map((input) => resolvePrompt(input, model.tokenizer, model.tokenizer.vocabSize));
    const plan = planGeneration(
      body,
      model,
      prompts.map((prompt) => prompt.ids),
      {
        maxTokens: body.max_tokens,
        topLogprobs: extras.logprobs,
        maxTokensLimit: context.maxTokensLimit,
        promptParams: inputs.map((input) => input.param),
        promptLogprobs: scoredAlternatives(body, extras),
      },
    );
    return { plan, wire: completionWire(prompts, plan.n, extras, includeUsage) };
  });
}

/**
 * Alternatives the engine reports per prompt token: enough for both echoed logprobs and vLLM's
 * prompt_logprobs; undefined when neither needs the prompt scored. An echo of max_tokens 0
 * without logprobs still runs through the engine (0 alternatives), so it is queued and counted
 * like any request.
 */
function scoredAlternatives(body: CompletionRequestBody, extras: Extras): number | undefined {
  const echoed = extras.echo && (extras.logprobs !== undefined || body.max_tokens === 0) ? (extras.logprobs ?? 0) : undefined;
  if (echoed === undefined) return extras.promptLogprobs;
  return Math.max(echoed, extras.promptLogprobs ?? 0);
}

function completionWire(prompts: readonly Prompt[], n: number, extras: Extras, includeUsage: boolean): Wire {
  const promptOf = (index: number) => prompts[Math.floor(index / n)]!;
  const echoed = (index: number, scored: readonly PromptTokenLogprob[] | undefined) => echoLogprobs(scored, extras.logprobs, promptOf(index).text);
  const offsets = new Map<number, TextOffsets>();
  const started = new Set<number>();
  const chunkOf = (meta: ResponseMeta, choices: object[]) => ({ id: meta.id, object: "text_completion", created: meta.created, model: meta.model, choices, ...(includeUsage ? { usage: null } : {}) });
  return {
    idPrefix: "cmpl",
    body: (meta, choices, usage) => ({
      id: meta.id,
      object: "text_completion",
      created: meta.created,
      model: meta.model,
      choices: choices.map((choice, index) => {
        let logprobs: CompletionLogprobs | null = null;
        if (extras.logprobs !== undefined) {
          const generated = completionLogprobs(choice.logprobs, new TextOffsets(extras.echo ? promptOf(index).text.length : 0));
          logprobs = extras.echo ? concatLogprobs(echoed(index, choice.promptLogprobs)!, generated) : generated;
        }
        return {
          index,
          text: extras.echo ? promptOf(index).text + choice.text : choice.text,
          logprobs,
          finish_reason: choice.finishReason,
          ...promptLogprobsField(extras, choice.promptLogprobs),
        };
      }),
      usage,
    }),
    opening: () => [],
    chunk: (meta, index, chunk) => {
      const first = !started.has(index);
      started.add(index);
      // The choice's first event carries what the request asked of its prompt, even if no text yet.
      const carriesPrompt = first && (extras.echo || extras.promptLogprobs !== undefined);
      const echo = first && extras.echo ? promptOf(index).text : "";
      if (!carriesPrompt && chunk.text.length === 0 && !chunk.finishReason && !(extras.logprobs !== undefined && chunk.logprobs?.length)) return [];
      let logprobs: CompletionLogprobs | null = null;
      if (extras.logprobs !== undefined) {
        if (!offsets.has(index)) offsets.set(index, new TextOffsets(extras.echo ? promptOf(index).text.length : 0));
        const generated = completionLogprobs(chunk.logprobs ?? [], offsets.get(index));
        logprobs = first && extras.echo ? concatLogprobs(echoed(index, chunk.promptLogprobs)!, generated) : generated;
      }
      const choice = { index, text: echo + chunk.text, logprobs, finish_reason: chunk.finishReason ?? null, ...(first ? promptLogprobsField(extras, chunk.promptLogprobs) : {}) };
      return [chunkOf(meta, [choice])];
    },
    usage: (meta, usage) => ({ ...chunkOf(meta, []), usage }),
  };
}

/** The echoed prompt's logprobs, with the `logprobs` alternatives asked for; undefined without logprobs. */
function echoLogprobs(scored: readonly PromptTokenLogprob[] | undefined, alternatives: number | undefined, text: string): CompletionLogprobs | undefined {
  if (alternatives === undefined) return undefined;
  const trimmed = (scored ?? []).map((entry) => ({ ...entry, topLogprobs: entry.topLogprobs.slice(0, alternatives) }));
  const result = completionLogprobs(trimmed);
  // Offsets past the text (a prompt string the tokenizer normalised) are clamped to its end.
  result.text_offset = result.text_offset.map((offset) => Math.min(offset, text.length));
  return result;
}

function promptLogprobsField(extras: Extras, scored: readonly PromptTokenLogprob[] | undefined): { prompt_logprobs?: ReturnType<typeof vllmPromptLogprobs> } {
  if (extras.promptLogprobs === undefined) return {};
  const trimmed = (scored ?? []).map((entry) => ({ ...entry, topLogprobs: entry.topLogprobs.slice(0, extras.promptLogprobs) }));
  return { prompt_logprobs: vllmPromptLogprobs(trimmed) };
}
