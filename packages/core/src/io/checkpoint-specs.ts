// The checks a Hugging Face checkpoint passes before any tensor data is read, shared by the folder
// loader (hf-folder.ts) and the in-memory one (hf-bytes.ts): every parameter of the config present
// with its shape and a float dtype, and nothing else but a tied lm_head and a reward model's
// value head.
import { ConfigMismatchError, UnsupportedDTypeError } from "../errors.js";
import type { ParameterSpec } from "../models/gemma2/params.js";
import { VALUE_HEAD } from "../train/objective.js";
import type { SafetensorsTensorInfo } from "./safetensors-format.js";

export const TIED_HEAD = "lm_head.weight";
const WEIGHT_DTYPES = new Set(["F32", "F16", "BF16"]);

/** A tensor's header entry and the file that holds it. */
export interface LocatedTensor {
  readonly file: string;
  readonly info: SafetensorsTensorInfo;
}

/** The spec names to load. Missing, misshapen, non-float and unknown tensors are refused. */
export function checkAgainstSpecs(specs: readonly ParameterSpec[], located: ReadonlyMap<string, LocatedTensor>): Set<string> {
  const wanted = new Set<string>();
  for (const spec of specs) {
    const found = located.get(spec.name);
    if (!found) throw new ConfigMismatchError(spec.name, `missing from the checkpoint (expected shape ${showShape(spec.shape)})`);
    if (!sameShape(found.info.shape, spec.shape)) {
      throw new ConfigMismatchError(spec.name, `expected shape ${showShape(spec.shape)}, got ${showShape(found.info.shape)} in ${found.file}`);
    }
    if (!WEIGHT_DTYPES.has(found.info.dtype)) throw new UnsupportedDTypeError(found.info.dtype, `tensor '${spec.name}' in ${found.file} (weights must be F32, F16 or BF16)`);
    wanted.add(spec.name);
  }
  const embedding = specs[0]!;
  for (const [name, { file, info }] of located) {
    if (wanted.has(name) || name === VALUE_HEAD) continue;
    if (name === TIED_HEAD && sameShape(info.shape, embedding.shape)) continue; // tied: the embedding is the head
    const problem = name === TIED_HEAD ? `expected the embedding's shape ${showShape(embedding.shape)}, got ${showShape(info.shape)}` : "is not a parameter of this config";
    throw new ConfigMismatchError(name, `${problem} (in ${file})`);
  }
  return wanted;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function showShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
