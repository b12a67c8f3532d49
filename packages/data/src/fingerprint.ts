// Shards are only meaningful with the tokenizer that wrote them. The fingerprint is a SHA-256 of
// what decides the ids: every token string in id order, the merge rules when the model has them,
// the special-token ids, and the encoding of a probe text (which also covers the normalizer and
// post-processor). It is computed from the Tokenizer object, so a tokenizer trained in memory and
// the same one loaded from its tokenizer.json get the same fingerprint.
import { createHash } from "node:crypto";
import type { Tokenizer } from "@gemma-ts/tokenizer";

const PROBE = "Tokenizer probe: Ünïcödé, 12345, tabs\tand\nnewlines  ▁ spaces, <b>tags</b>, 中文, emoji 😀.";

export function tokenizerFingerprint(tokenizer: Tokenizer): string {
  const hash = createHash("sha256");
  hash.update(`vocab ${tokenizer.vocabSize}\n`);
  const batch: string[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const token = tokenizer.idToToken(id);
    batch.push(token === undefined ? "\u0000" : JSON.stringify(token));
    if (batch.length === 4096) hash.update(`${batch.splice(0).join("\n")}\n`);
  }
  hash.update(`${batch.join("\n")}\n`);
  const merges = (tokenizer.model as { merges?: readonly (readonly [string, string])[] }).merges;
  if (Array.isArray(merges)) {
    hash.update(`merges ${merges.length}\n`);
    for (let i = 0; i < merges.length; i += 4096) {
      hash.update(`${merges.slice(i, i + 4096).map((pair) => JSON.stringify(pair)).join("\n")}\n`);
    }
  }
  hash.update(`special ${JSON.stringify(tokenizer.special)}\n`);
  hash.update(`probe ${tokenizer.encode(PROBE).ids.join(",")}\n`);
  return `sha256:${hash.digest("hex")}`;
}
