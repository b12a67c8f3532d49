// gemma-ts sft: supervised fine-tuning on the task family (posttrain/sft-run.ts): each training
// prompt with its reference answer, or behavioural cloning, a teacher's reply to a share of them.
// The run is a `gemma-ts train` run of the model on those chats (the loss on the replies only):
// the same folder layout, metrics, checkpoints and --resume.
import { resolve } from "node:path";
import { Command } from "commander";
import { runSft } from "../posttrain/sft-run.js";
import { positiveInteger, positiveNumber, seedValue, unitInterval } from "../training/flag-values.js";

interface SftFlags {
  model: string;
  out: string;
  tasks: string;
  evalTasks?: string;
  teacher?: string;
  teacherShare: number;
  teacherModel?: string;
  apiKey?: string;
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  seed: number;
  maxNewTokens: number;
  evalEvery?: number;
  threads?: number;
}

export function sftCommand(): Command {
  return new Command("sft")
    .description("fine-tune a model on task chats (the reference answers, or a teacher's replies: behavioural cloning), the loss on the replies only; a `train` run in --out, resumable with the same command")
    .requiredOption("--model <dir>", "the Hugging Face folder to fine-tune (with tokenizer.json)")
    .requiredOption("--out <dir>", "the run's folder")
    .requiredOption("--tasks <file>", "training tasks, a JSONL of {\"kind\", \"prompt\", \"answer\"} (as `gemma-ts recipe` writes in DIR/data)")
    .option("--eval-tasks <file>", "held-out tasks: the evaluation loss is on their reference answers")
    .option("--teacher <dir|url>", "behavioural cloning: a model folder or an OpenAI-compatible endpoint answers --teacher-share of the prompts")
    .option("--teacher-share <x>", "the share of prompts the teacher answers", unitInterval("--teacher-share"), 1)
    .option("--teacher-model <name>", "an endpoint teacher's model name")
    .option("--api-key <key>", "an endpoint teacher's API key (default: OPENAI_API_KEY)")
    .option("--steps <n>", "optimiser steps", positiveInteger("--steps"), 600)
    .option("--batch-size <n>", "rows per step", positiveInteger("--batch-size"), 16)
    .option("--seq-len <n>", "tokens per row: one chat a row, cut or padded to it", positiveInteger("--seq-len"), 48)
    .option("--lr <x>", "peak learning rate", positiveNumber("--lr"), 2e-3)
    .option("--seed <n>", "seed of the data order", seedValue("--seed"), 0)
    .option("--max-new-tokens <n>", "the teacher's reply length", positiveInteger("--max-new-tokens"), 16)
    .option("--eval-every <n>", "steps between evaluations (default: at the end)", positiveInteger("--eval-every"))
    .option("--threads <n>", "onnxruntime intra-op threads (default one per core)", positiveInteger("--threads"))
    .action(async (flags: SftFlags) => {
      await runSft({
        model: resolve(flags.model),
        out: resolve(flags.out),
        trainTasks: resolve(flags.tasks),
        evalTasks: flags.evalTasks === undefined ? null : resolve(flags.evalTasks),
        teacher: flags.teacher === undefined ? null : /^https?:\/\//.test(flags.teacher) ? flags.teacher : resolve(flags.teacher),
        teacherShare: flags.teacher === undefined ? 0 : flags.teacherShare,
        teacherModel: flags.teacherModel,
        apiKey: flags.apiKey ?? process.env.OPENAI_API_KEY,
        maxNewTokens: flags.maxNewTokens,
        training: { steps: flags.steps, batchSize: flags.batchSize, seqLen: flags.seqLen, lr: flags.lr, seed: flags.seed },
        evalEvery: flags.evalEvery ?? flags.steps,
        threads: flags.threads ?? null,
        log: (line) => process.stdout.write(`${line}\n`),
      });
    });
}
