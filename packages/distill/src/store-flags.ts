// The choice `gemma-ts distill store` offers (--top-k K | --sample K, --temperature T) as values,
// so the command stays a thin wrapper. The default is what trained the best students in
// `gemma-ts experiment distill`: 64 draws from the teacher's distribution (Gemma 3 draws 256), an
// unbiased estimate of the whole distribution, beat the top 64 (biased: the tail is lost) with or
// without the labels mixed in, and came closest to the whole distribution.
import { InvalidArgumentError } from "./errors.js";
import type { SparseMode } from "./teacher.js";

export interface StoreSelection {
  mode: SparseMode;
  k: number;
  temperature: number;
}

export const DEFAULT_STORE_SELECTION: Readonly<StoreSelection> = { mode: "sample", k: 64, temperature: 1 };

/** An endpoint returns its top log-probs only, so an endpoint teacher's default is the top 64. */
export const ENDPOINT_STORE_SELECTION: Readonly<StoreSelection> = { mode: "top-k", k: 64, temperature: 1 };

/** Flag values as given on a command line (strings), any of them absent. */
export interface StoreFlags {
  topK?: string;
  sample?: string;
  temperature?: string;
}

/** The selection the flags give; what they leave out comes from `defaults`. */
export function storeSelectionFromFlags(flags: StoreFlags, defaults: Readonly<StoreSelection> = DEFAULT_STORE_SELECTION): StoreSelection {
  if (flags.topK !== undefined && flags.sample !== undefined) throw new InvalidArgumentError("--top-k", "give --top-k or --sample, not both");
  const integer = (flag: string, text: string) => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(flag, `expected a positive integer, got ${JSON.stringify(text)}`);
    return value;
  };
  let { mode, k } = defaults;
  if (flags.topK !== undefined) {
    mode = "top-k";
    k = integer("--top-k", flags.topK);
  }
  if (flags.sample !== undefined) {
    mode = "sample";
    k = integer("--sample", flags.sample);
  }
  let temperature = defaults.temperature;
  if (flags.temperature !== undefined) {
    temperature = Number(flags.temperature);
    if (flags.temperature.trim() === "" || !(temperature > 0 && Number.isFinite(temperature))) {
      throw new InvalidArgumentError("--temperature", `expected a positive number, got ${JSON.stringify(flags.temperature)}`);
    }
  }
  return { mode, k, temperature };
}
