// The choice `gemma-ts distill store` offers (--top-k K | --sample K, --temperature T) as values,
// so the command stays a thin wrapper. The defaults are placeholders until the distillation
// ablation measures which sparse target trains the best student.
import { InvalidArgumentError } from "./errors.js";
import type { SparseMode } from "./teacher.js";

export interface StoreSelection {
  mode: SparseMode;
  k: number;
  temperature: number;
}

export const DEFAULT_STORE_SELECTION: Readonly<StoreSelection> = { mode: "top-k", k: 64, temperature: 1 };

/** Flag values as given on a command line (strings), any of them absent. */
export interface StoreFlags {
  topK?: string;
  sample?: string;
  temperature?: string;
}

export function storeSelectionFromFlags(flags: StoreFlags): StoreSelection {
  if (flags.topK !== undefined && flags.sample !== undefined) throw new InvalidArgumentError("--top-k", "give --top-k or --sample, not both");
  const integer = (flag: string, text: string) => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(flag, `expected a positive integer, got ${JSON.stringify(text)}`);
    return value;
  };
  let { mode, k } = DEFAULT_STORE_SELECTION;
  if (flags.topK !== undefined) k = integer("--top-k", flags.topK);
  if (flags.sample !== undefined) {
    mode = "sample";
    k = integer("--sample", flags.sample);
  }
  let temperature = DEFAULT_STORE_SELECTION.temperature;
  if (flags.temperature !== undefined) {
    temperature = Number(flags.temperature);
    if (flags.temperature.trim() === "" || !(temperature > 0 && Number.isFinite(temperature))) {
      throw new InvalidArgumentError("--temperature", `expected a positive number, got ${JSON.stringify(flags.temperature)}`);
    }
  }
  return { mode, k, temperature };
}
