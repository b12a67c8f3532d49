// Checks a CompletionRequest at the door, so a bad one is refused with an InvalidRequestError
// naming the field (the HTTP layer answers 400) before it takes a queue place or a batch row.
import { ContextLengthExceededError, InvalidRequestError } from "./errors.js";
import type { CompletionRequest } from "./types.js";

export function validateRequest(request: CompletionRequest, vocabSize: number, contextLength: number): void {
  const { promptIds } = request;
  if (!Array.isArray(promptIds) || promptIds.length === 0) throw new InvalidRequestError("promptIds", "expected a non-empty list of token ids");
  promptIds.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new InvalidRequestError(`promptIds[${i}]`, `${id} is not a token id of the model's vocabulary [0, ${vocabSize})`);
  });
  if (promptIds.length >= contextLength) throw new ContextLengthExceededError(promptIds.length, contextLength);
  checkInteger("maxTokens", request.maxTokens, 1, Number.MAX_SAFE_INTEGER);
  checkSampling(request);
}

function checkInteger(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidRequestError(field, `expected an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

function checkSampling(request: CompletionRequest): void {
  const sampling = request.sampling ?? {};
  const finite = (name: string, value: number | undefined, min: number, max: number) => {
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max)) {
      throw new InvalidRequestError(`sampling.${name}`, `expected a number in [${min}, ${max}], got ${String(value)}`);
    }
  };
  finite("temperature", sampling.temperature, 0, 100);
  finite("topP", sampling.topP, 0, 1);
  finite("minP", sampling.minP, 0, 1);
  finite("repetitionPenalty", sampling.repetitionPenalty, Number.MIN_VALUE, 100);
  finite("frequencyPenalty", sampling.frequencyPenalty, -100, 100);
  finite("presencePenalty", sampling.presencePenalty, -100, 100);
  if (sampling.topK !== undefined) checkInteger("sampling.topK", sampling.topK, 0, Number.MAX_SAFE_INTEGER);
  if (sampling.seed !== undefined) checkInteger("sampling.seed", sampling.seed, -(2 ** 53), 2 ** 53);
  if (request.topLogprobs !== undefined) checkInteger("topLogprobs", request.topLogprobs, 0, 1000);
  if (request.stop !== undefined && (!Array.isArray(request.stop) || !request.stop.every((s) => typeof s === "string"))) {
    throw new InvalidRequestError("stop", "expected a list of strings");
  }
  if (request.stopTokens !== undefined && (!Array.isArray(request.stopTokens) || !request.stopTokens.every((id) => Number.isInteger(id)))) {
    throw new InvalidRequestError("stopTokens", "expected a list of token ids");
  }
}
