// A store is only meaningful for students of the teacher's vocabulary: the same ids must name the
// same tokens. The shards record their tokenizer's fingerprint (every token string in id order,
// the merges, the special ids, a probe encoding), so the teacher's tokenizer must have the same one.
import { createHash } from "node:crypto";
import type { TokenShards } from "@gemma-ts/data";
import { VocabularyMismatchError } from "./errors.js";
import type { Vocabulary } from "./teacher.js";

/** Refuses a teacher whose vocabulary is not the shards' tokenizer's (VocabularyMismatchError). */
export function checkVocabulary(teacher: Vocabulary, shards: TokenShards): void {
  if (teacher.size !== shards.index.vocabSize) throw new VocabularyMismatchError("vocabSize", teacher.size, shards.index.vocabSize);
  if (teacher.fingerprint !== shards.index.tokenizer.fingerprint) throw new VocabularyMismatchError("tokenizer", teacher.fingerprint, shards.index.tokenizer.fingerprint);
}

/** sha256 of the shards' index and every document's length: what a store's positions depend on. */
export function shardsFingerprint(shards: TokenShards): string {
  const hash = createHash("sha256");
  hash.update(`${JSON.stringify(shards.index)}\n`);
  const lengths = new Uint32Array(Math.min(shards.documentCount, 65536));
  for (let first = 0; first < shards.documentCount; first += lengths.length) {
    const count = Math.min(lengths.length, shards.documentCount - first);
    for (let i = 0; i < count; i++) lengths[i] = shards.documentLengthOf(first + i);
    hash.update(new Uint8Array(lengths.buffer, 0, count * 4));
  }
  return `sha256:${hash.digest("hex")}`;
}
