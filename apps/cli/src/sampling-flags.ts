// The flags generate and chat share: sampling (--max-tokens, --temperature, --top-k, --top-p,
// --min-p, --seed, --stop), parsed into the engine's request fields, and how the model runs
// (--threads, --quantize, --backend). Their ranges are
// @gemma-ts/serve's REQUEST_LIMITS, the ones the engine and the HTTP server check. Without --seed
// each run draws one, as llama.cpp does, so runs differ unless asked not to.
import { randomInt } from "node:crypto";
import { describeLimit, REQUEST_LIMITS, withinLimit, type CompletionRequest, type RequestLimit } from "@gemma-ts/serve";
import type { QuantType } from "@gemma-ts/core";
import { integerFlag, MODEL_BACKENDS, type ModelBackend, quantizeFlag } from "@gemma-ts/serve/http";
import { type Command, InvalidArgumentError, Option } from "commander";

export interface SamplingFlags {
  maxTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  minP?: number;
  seed?: number;
  stop: string[];
  threads?: number;
  quantize?: QuantType;
  backend?: ModelBackend;
}

/** A flag's value parsed as a number within `limit`. */
const limited = (name: string, limit: RequestLimit) => (value: string) => {
  const parsed = Number(value);
  if (value.trim() === "" || !withinLimit(parsed, limit)) throw new InvalidArgumentError(`${name} must be ${describeLimit(limit)}`);
  return parsed;
};

/** --stop, repeatable: non-empty strings, as many as a request may give. */
const stopFlag = (value: string, previous: string[]): string[] => {
  if (value === "") throw new InvalidArgumentError("--stop must not be empty");
  if (previous.length >= REQUEST_LIMITS.stopStrings.max) throw new InvalidArgumentError(`--stop may be given at most ${REQUEST_LIMITS.stopStrings.max} times`);
  return [...previous, value];
};

export function withSamplingFlags(command: Command): Command {
  return command
    .option("--max-tokens <n>", "most tokens to generate", limited("--max-tokens", REQUEST_LIMITS.maxTokens), 256)
    .option("--temperature <t>", "0 is greedy", limited("--temperature", REQUEST_LIMITS.temperature), 1)
    .option("--top-k <k>", "keep the k most likely tokens (0: all)", limited("--top-k", REQUEST_LIMITS.topK))
    .option("--top-p <p>", "nucleus sampling", limited("--top-p", REQUEST_LIMITS.topP))
    .option("--min-p <m>", "drop tokens below m times the top probability", limited("--min-p", REQUEST_LIMITS.minP))
    .option("--seed <s>", "sampling seed (default: random)", limited("--seed", REQUEST_LIMITS.seed))
    .option("--stop <text>", "stop before this text (repeatable)", stopFlag, [] as string[])
    .option("--threads <n>", "onnxruntime intra-op threads", integerFlag("--threads", 1))
    .option("--quantize <type>", "quantize the weights while loading: q8 or q4 (llama.cpp's Q8_0 / Q4_0 rounding)", quantizeFlag)
    .addOption(
      new Option("--backend <backend>", "core (safetensors on the core's graphs, onnxruntime), webgpu (the same graphs on the GPU), onnx (onnx/model.onnx) or auto: safetensors if present, else onnx").choices(
        MODEL_BACKENDS,
      ),
    );
}

export function samplingOf(flags: SamplingFlags): NonNullable<CompletionRequest["sampling"]> {
  return {
    temperature: flags.temperature,
    ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
    ...(flags.topP !== undefined ? { topP: flags.topP } : {}),
    ...(flags.minP !== undefined ? { minP: flags.minP } : {}),
    seed: flags.seed ?? randomInt(2 ** 31),
  };
}
