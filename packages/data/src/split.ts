// The held-out split is by document, so no held-out text is ever seen in training, and it depends
// only on the document count and the split's own settings, not on the training seed: runs with
// different seeds evaluate on the same documents.
import { InvalidArgumentError } from "./errors.js";
import { permutation, SeededRandom } from "./random.js";

export type HeldOutSplit =
  /** A random `fraction` of the documents (rounded; at least one, and at least one left to train). */
  | { fraction: number; seed?: number }
  /** Every n-th document: numbers n-1, 2n-1, ... (0-based), as in "every tenth speech". */
  | { every: number };

export interface DocumentSplit {
  /** Document numbers, ascending. */
  train: Uint32Array;
  heldOut: Uint32Array;
}

const SPLIT_STREAM = 0x5b117;

export function splitDocuments(documentCount: number, split: HeldOutSplit): DocumentSplit {
  if (!Number.isSafeInteger(documentCount) || documentCount < 2) {
    throw new InvalidArgumentError("documents", `a held-out split needs at least 2 documents, got ${documentCount}`);
  }
  const heldOut = new Uint8Array(documentCount);
  if ("every" in split) {
    if (!Number.isSafeInteger(split.every) || split.every < 2 || split.every > documentCount) {
      throw new InvalidArgumentError("heldOut.every", `expected an integer in [2, ${documentCount}], got ${split.every}`);
    }
    for (let i = split.every - 1; i < documentCount; i += split.every) heldOut[i] = 1;
  } else {
    if (!(split.fraction > 0 && split.fraction < 1)) {
      throw new InvalidArgumentError("heldOut.fraction", `expected a number in (0, 1), got ${split.fraction}`);
    }
    const seed = split.seed ?? 0;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InvalidArgumentError("heldOut.seed", `expected a uint32, got ${seed}`);
    const count = Math.min(documentCount - 1, Math.max(1, Math.round(split.fraction * documentCount)));
    const order = permutation(documentCount, new SeededRandom(SPLIT_STREAM, seed));
    for (let i = 0; i < count; i++) heldOut[order[i]!] = 1;
  }
  const train: number[] = [];
  const held: number[] = [];
  for (let i = 0; i < documentCount; i++) (heldOut[i] ? held : train).push(i);
  return { train: Uint32Array.from(train), heldOut: Uint32Array.from(held) };
}
