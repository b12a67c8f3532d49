// gemma-ts eval: a model's loss and perplexity on files, as one JSON object on stdout
// ({loss, perplexity, tokens}): every target token of the files once, in order.
import { resolve } from "node:path";
import type { TextUnit } from "@gemma-ts/data";
import { Command, Option } from "commander";
import { evaluateFiles } from "../training/evaluate-files.js";
import { positiveInteger } from "../training/flag-values.js";

interface EvalFlags {
  model: string;
  data: string[];
  tokenizer?: string;
  adapter?: string;
  seqLen?: number;
  batchSize: number;
  textUnit: TextUnit;
  threads?: number;
}

export function evalCommand(): Command {
  return new Command("eval")
    .description("print a model's {loss, perplexity, tokens} over all of the text of some files, as JSON")
    .requiredOption("--model <dir>", "a Hugging Face folder (its tokenizer.json is used unless --tokenizer)")
    .requiredOption("--data <files...>", "files to score: .txt/.md (see --text-unit), .jsonl, .parquet")
    .option("--tokenizer <path>", "a tokenizer.json (or a folder holding one)")
    .option("--adapter <dir>", "a LoRA adapter folder (PEFT layout) to apply to --model")
    .option("--seq-len <n>", "tokens per row (default 256, or the model's positions if fewer)", positiveInteger("--seq-len"))
    .option("--batch-size <n>", "rows per batch", positiveInteger("--batch-size"), 8)
    .addOption(new Option("--text-unit <unit>", "what a document is in a text file").choices(["file", "paragraph", "line"]).default("file"))
    .option("--threads <n>", "onnxruntime intra-op threads", positiveInteger("--threads"))
    .action(async (flags: EvalFlags) => {
      const result = await evaluateFiles({
        model: resolve(flags.model),
        data: flags.data.map((path) => resolve(path)),
        tokenizer: flags.tokenizer,
        adapter: flags.adapter,
        seqLen: flags.seqLen,
        batchSize: flags.batchSize,
        textUnit: flags.textUnit,
        threads: flags.threads,
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });
}
