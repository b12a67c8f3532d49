// The sampling flags generate and chat share (--max-tokens, --temperature, --top-k, --top-p,
// --min-p, --seed, --stop), parsed into the engine's request fields. Without --seed each run
// draws one, as llama.cpp does, so runs differ unless asked not to.
import { randomInt } from "node:crypto";
import type { CompletionRequest } from "@gemma-ts/serve";
import { Command, InvalidArgumentError } from "commander";

export interface SamplingFlags {
  maxTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  minP?: number;
  seed?: number;
  stop: string[];
  threads?: number;
}

const number = (name: string, check: (value: number) => boolean, rule: string) => (value: string) => {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || !check(parsed)) throw new InvalidArgumentError(`${name} must be ${rule}`);
  return parsed;
};

export function withSamplingFlags(command: Command): Command {
  return command
    .option("--max-tokens <n>", "most tokens to generate", number("--max-tokens", (v) => Number.isInteger(v) && v >= 1, "an integer >= 1"), 256)
    .option("--temperature <t>", "0 is greedy", number("--temperature", (v) => v >= 0, "a number >= 0"), 1)
    .option("--top-k <k>", "keep the k most likely tokens", number("--top-k", (v) => Number.isInteger(v) && v >= 0, "an integer >= 0"))
    .option("--top-p <p>", "nucleus sampling", number("--top-p", (v) => v > 0 && v <= 1, "in (0, 1]"))
    .option("--min-p <m>", "drop tokens below m times the top probability", number("--min-p", (v) => v >= 0 && v <= 1, "in [0, 1]"))
    .option("--seed <s>", "sampling seed (default: random)", number("--seed", Number.isSafeInteger, "an integer"))
    .option("--stop <text>", "stop before this text (repeatable)", (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option("--threads <n>", "onnxruntime intra-op threads", number("--threads", (v) => Number.isInteger(v) && v >= 1, "an integer >= 1"));
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
