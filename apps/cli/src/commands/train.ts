// gemma-ts train: a model trained on text, JSONL or Parquet files, from a preset's random weights or
// further from a Hugging Face folder, in full or with LoRA adapters; resumable after a crash with
// --resume, or distilled from a teacher store (gemma-ts distill store) with --teacher-store, or
// online from a teacher model's whole distribution with --teacher. This
// file parses the flags; training/run-training.ts runs the run.
import { resolve } from "node:path";
import { LORA_MODULES, type LoraModule, PRESETS } from "@gemma-ts/core";
import type { Packing, TextUnit } from "@gemma-ts/data";
import { Command, InvalidArgumentError, Option } from "commander";
import { type GraphBackendName, graphBackendOption } from "../graph-backend.js";
import { fraction, nonNegativeInteger, nonNegativeNumber, positiveInteger, positiveNumber, seedValue, unitInterval } from "../training/flag-values.js";
import { defaultKdWeight, type RunSettings } from "../training/run-settings.js";
import { runTraining } from "../training/run-training.js";

const TEXT_UNITS: readonly TextUnit[] = ["file", "paragraph", "line"];

interface TrainFlags {
  preset?: string;
  model?: string;
  data?: string[];
  tokenizer?: string;
  out: string;
  steps?: number;
  batchSize?: number;
  seqLen?: number;
  gradAccum?: number;
  packing?: Packing;
  lr?: number;
  minLr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  seed?: number;
  textUnit?: TextUnit;
  eval?: string[];
  heldOut?: number;
  evalEvery?: number;
  checkpointEvery?: number;
  keepCheckpoints?: number;
  resume?: boolean;
  loraRank?: number;
  loraAlpha?: number;
  loraModules?: LoraModule[];
  threads?: number;
  backend?: GraphBackendName;
  logEvery?: number;
  teacherStore?: string;
  teacherTopK?: number;
  teacher?: string;
  kdWeight?: number;
}

export function trainCommand(): Command {
  return new Command("train")
    .description(
      "train a model on text, JSONL or Parquet files; writes metrics.jsonl, loss.svg, checkpoints and the final Hugging Face folder into --out, and continues a run with --resume",
    )
    .addOption(new Option("--preset <name>", "start from a built-in configuration's random weights").choices(Object.keys(PRESETS)).conflicts("model"))
    .option("--model <dir>", "start from a Hugging Face folder (its tokenizer.json is used if present)")
    .option("--data <files...>", "training files: .txt/.md (see --text-unit), .jsonl ({\"text\"} or {\"messages\"}), .parquet; .txt/.jsonl may be .gz")
    .option("--tokenizer <path>", "a tokenizer.json (or a folder holding one); default the model's, else one is trained on the data")
    .requiredOption("--out <dir>", "the run's folder")
    .option("--steps <n>", "optimiser steps", positiveInteger("--steps"))
    .option("--batch-size <n>", "rows per micro-batch", positiveInteger("--batch-size"))
    .option("--seq-len <n>", "tokens per row", positiveInteger("--seq-len"))
    .option("--grad-accum <n>", "micro-batches per step (gradient accumulation; default 1)", positiveInteger("--grad-accum"))
    .addOption(new Option("--packing <how>", "stream: documents end to end, rows cut anywhere (pre-training); none: one document a row, padded, so a chat's reply sees its whole prompt (SFT) (default stream)").choices(["stream", "none"]))
    .option("--lr <x>", "peak learning rate of the warmup-cosine schedule (default 1e-3)", positiveNumber("--lr"))
    .option("--min-lr <x>", "the rate the cosine decays to (default --lr / 10)", nonNegativeNumber("--min-lr"))
    .option("--warmup-steps <n>", "linear warmup steps (default steps / 20, at most 1000)", nonNegativeInteger("--warmup-steps"))
    .option("--weight-decay <x>", "AdamW's decoupled weight decay, not applied to norms (default 0.01)", nonNegativeNumber("--weight-decay"))
    .option("--max-grad-norm <x>", "clip the gradient to this global norm (default 1)", positiveNumber("--max-grad-norm"))
    .option("--seed <n>", "seed of the initial weights, adapters and data order (default 0)", seedValue("--seed"))
    .addOption(new Option("--text-unit <unit>", "what a document is in a text file (default file)").choices(TEXT_UNITS))
    .addOption(new Option("--eval <files...>", "evaluation files: an ordered pass over all of them at each evaluation").conflicts("heldOut"))
    .option("--held-out <fraction>", "hold this share of the training documents out for evaluation instead", fraction("--held-out"))
    .option("--eval-every <n>", "steps between evaluations (default --checkpoint-every)", positiveInteger("--eval-every"))
    .option("--checkpoint-every <n>", "steps between checkpoints (default 100); one is also written at the end", positiveInteger("--checkpoint-every"))
    .option("--keep-checkpoints <n>", "how many of the newest checkpoints to keep; 0 keeps all (default 2)", nonNegativeInteger("--keep-checkpoints"))
    .option("--resume", "continue the run in --out from its latest checkpoint (flags left out take the run's values)")
    .option("--lora-rank <r>", "train LoRA adapters of this rank on a frozen base instead of every weight", positiveInteger("--lora-rank"))
    .option("--lora-alpha <x>", "LoRA's scale numerator (default 2 x rank)", positiveNumber("--lora-alpha"))
    .option("--lora-modules <list>", `comma-separated projections to adapt, of ${LORA_MODULES.join(", ")} (default q_proj,k_proj,v_proj,o_proj)`, loraModules)
    .option("--threads <n>", "onnxruntime intra-op threads (default one per core; a resumed run keeps the run's, for losses equal bit for bit)", positiveInteger("--threads"))
    .option(
      "--teacher-store <dir>",
      "distil from a teacher store written by `gemma-ts distill store` over the same --data and --text-unit (its tokenizer.json is the default tokenizer)",
    )
    .option("--teacher-top-k <k>", "with a top-k --teacher-store: use only each token's k most likely stored ids (one top-64 store serves top-1, top-8 and top-64 students)", positiveInteger("--teacher-top-k"))
    .addOption(
      new Option(
        "--teacher <dir>",
        "distil online from a teacher model (a Hugging Face folder with the student's tokenizer), on its whole next-token distribution: one teacher forward pass per step, no store",
      ).conflicts("teacherStore"),
    )
    .option("--kd-weight <a>", `with --teacher-store or --teacher: the loss is a x KD + (1 - a) x next-token cross-entropy (default ${defaultKdWeight("sample")} with a sampled store or --teacher, KD alone; ${defaultKdWeight("top-k")} with a top-k store)`, unitInterval("--kd-weight"))
    .addOption(graphBackendOption())
    .option("--log-every <n>", "steps between progress lines when stdout is not a terminal (default 1)", positiveInteger("--log-every"))
    .action(async (flags: TrainFlags) => {
      const givenOptions = {
        checkpointEvery: flags.checkpointEvery,
        evalEvery: flags.evalEvery,
        keepCheckpoints: flags.keepCheckpoints,
        logEvery: flags.logEvery,
        threads: flags.threads,
        backend: flags.backend,
      };
      await runTraining({
        out: resolve(flags.out),
        resume: flags.resume === true,
        given: givenSettings(flags),
        givenOptions: Object.fromEntries(Object.entries(givenOptions).filter(([, value]) => value !== undefined)),
      });
    });
}

/** The run's settings the flags give; paths absolute, so a run resumes from any folder. */
function givenSettings(flags: TrainFlags): Partial<RunSettings> {
  const paths = (list: string[] | undefined) => list?.map((path) => resolve(path));
  const given: Partial<RunSettings> = {
    preset: flags.preset,
    model: flags.model === undefined ? undefined : resolve(flags.model),
    data: paths(flags.data),
    eval: paths(flags.eval),
    heldOut: flags.heldOut,
    textUnit: flags.textUnit,
    tokenizer: flags.tokenizer === undefined ? undefined : resolve(flags.tokenizer),
    steps: flags.steps,
    batchSize: flags.batchSize,
    seqLen: flags.seqLen,
    gradAccum: flags.gradAccum,
    packing: flags.packing,
    lr: flags.lr,
    minLr: flags.minLr,
    warmupSteps: flags.warmupSteps,
    weightDecay: flags.weightDecay,
    maxGradNorm: flags.maxGradNorm,
    seed: flags.seed,
    loraRank: flags.loraRank,
    loraAlpha: flags.loraAlpha,
    loraModules: flags.loraModules,
    teacherStore: flags.teacherStore === undefined ? undefined : resolve(flags.teacherStore),
    teacher: flags.teacher === undefined ? undefined : resolve(flags.teacher),
    teacherTopK: flags.teacherTopK,
    kdWeight: flags.kdWeight,
  };
  return Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
}

function loraModules(value: string): LoraModule[] {
  const modules = value.split(",").map((part) => part.trim());
  const unknown = modules.find((module) => !LORA_MODULES.includes(module as LoraModule));
  if (unknown !== undefined) throw new InvalidArgumentError(`--lora-modules: '${unknown}' is not one of ${LORA_MODULES.join(", ")}`);
  return [...new Set(modules)] as LoraModule[];
}
