// Checks a CompletionRequest at the door, so a bad one is refused with an InvalidRequestError
// naming the field (the HTTP layer answers 400) before it takes a queue place or a batch row.
// The ranges are REQUEST_LIMITS, the ones the HTTP schemas and the CLI's flags check too.
import { ContextLengthExceededError, InvalidRequestError } from "./errors.js";
import { describeLimit, REQUEST_LIMITS, withinLimit, type RequestLimit } from "./request-limits.js";
import type { CompletionRequest } from "./types.js";

export function validateRequest(request: CompletionRequest, vocabSize: number, contextLength: number): void {
  const { promptIds } = request;
  if (!Array.isArray(promptIds) || promptIds.length === 0) throw new InvalidRequestError("promptIds", "expected a non-empty list of token ids");
  promptIds.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new InvalidRequestError(`promptIds[${i}]`, `${id} is not a token id of the model's vocabulary [0, ${vocabSize})`);
  });
  if (promptIds.length >= contextLength) throw new ContextLengthExceededError(promptIds.length, contextLength);
  // 0 is a score-only request: the prompt's log-probabilities and nothing generated.
  if (!(request.maxTokens === 0 && request.promptLogprobs !== undefined)) check("maxTokens", request.maxTokens, REQUEST_LIMITS.maxTokens);
  if (request.promptLogprobs !== undefined) check("promptLogprobs", request.promptLogprobs, REQUEST_LIMITS.promptLogprobs);
  checkSampling(request);
}

function check(field: string, value: unknown, limit: RequestLimit): void {
  if (!withinLimit(value, limit)) throw new InvalidRequestError(field, `expected ${describeLimit(limit)}, got ${String(value)}`);
}

function checkSampling(request: CompletionRequest): void {
  const sampling: NonNullable<CompletionRequest["sampling"]> = request.sampling ?? {};
  const optional = (name: keyof typeof sampling & keyof typeof REQUEST_LIMITS) => {
    if (sampling[name] !== undefined) check(`sampling.${name}`, sampling[name], REQUEST_LIMITS[name]);
  };
  optional("temperature");
  optional("topP");
  optional("topK");
  optional("minP");
  optional("repetitionPenalty");
  optional("frequencyPenalty");
  optional("presencePenalty");
  optional("seed");
  if (request.topLogprobs !== undefined) check("topLogprobs", request.topLogprobs, REQUEST_LIMITS.topLogprobs);
  if (request.stop !== undefined) {
    if (!Array.isArray(request.stop) || !request.stop.every((s) => typeof s === "string" && s.length > 0)) {
      throw new InvalidRequestError("stop", "expected a list of non-empty strings");
    }
    const { max } = REQUEST_LIMITS.stopStrings;
    if (request.stop.length > max) throw new InvalidRequestError("stop", `expected at most ${max} stop strings, got ${request.stop.length}`);
    const longest = REQUEST_LIMITS.stopStringLength.max;
    const long = request.stop.findIndex((s) => s.length > longest);
    if (long >= 0) throw new InvalidRequestError(`stop[${long}]`, `expected at most ${longest} characters, got ${request.stop[long]!.length}`);
  }
  if (request.stopTokens !== undefined && (!Array.isArray(request.stopTokens) || !request.stopTokens.every((id) => Number.isInteger(id)))) {
    throw new InvalidRequestError("stopTokens", "expected a list of token ids");
  }
}
