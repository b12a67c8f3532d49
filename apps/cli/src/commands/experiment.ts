// gemma-ts experiment: experiments that reproduce the Gemma 2 report's ablations at laptop scale.
// `distill` compares students trained from scratch and distilled from a teacher
// (experiment/distill-experiment.ts). This file parses the flags.
import { resolve } from "node:path";
import type { TextUnit } from "@gemma-ts/data";
import { Command, Option } from "commander";
import { runDistillExperiment } from "../experiment/distill-experiment.js";
import { FULL_PLAN, QUICK_PLAN } from "../experiment/experiment-plan.js";
import { positiveInteger } from "../training/flag-values.js";

interface DistillExperimentFlags {
  out: string;
  data?: string[];
  eval?: string[];
  textUnit: TextUnit;
  quick?: boolean;
  seeds?: number;
  threads?: number;
}

export function experimentCommand(): Command {
  const experiment = new Command("experiment").description("reproduce the Gemma 2 report's ablations at a small scale");
  experiment.addCommand(
    new Command("distill")
      .description(
        "train a teacher, then students from scratch and distilled from it (top-k, sampled and full teacher distributions, at equal tokens and equal compute), and on-policy against off-policy distillation; writes results.json, results.md (beside the report's Table 7) and plots into --out. About 45 minutes on 2 cores; a rerun continues where it stopped",
      )
      .requiredOption("--out <dir>", "the experiment's folder")
      .option("--data <files...>", "training text (default: the bundled State of the Union corpus); .txt/.md (see --text-unit), .jsonl, .parquet")
      .option("--eval <files...>", "held-out text (default: every tenth document of the data)")
      .addOption(new Option("--text-unit <unit>", "what a document is in a text file").choices(["file", "paragraph", "line"]).default("file"))
      .option("--quick", "a few-minute smoke run of the whole pipeline on a small corpus (its figures mean nothing)")
      .option("--seeds <n>", "student seeds (default 2; 1 with --quick)", positiveInteger("--seeds"))
      .option("--threads <n>", "onnxruntime intra-op threads (default one per core)", positiveInteger("--threads"))
      .action(async (flags: DistillExperimentFlags) => {
        const base = flags.quick ? QUICK_PLAN : FULL_PLAN;
        const plan = flags.seeds === undefined ? base : { ...base, seeds: Array.from({ length: flags.seeds }, (_, i) => i) };
        await runDistillExperiment({
          out: resolve(flags.out),
          plan,
          data: (flags.data ?? []).map((path) => resolve(path)),
          eval: (flags.eval ?? []).map((path) => resolve(path)),
          textUnit: flags.textUnit,
          threads: flags.threads ?? null,
          log: (line) => process.stdout.write(`${line}\n`),
        });
      }),
  );
  return experiment;
}
