// gemma-ts distill: knowledge distillation from a teacher's stored next-token distributions.
// `store` scores a corpus once with a teacher into a teacher store (distill/store-run.ts); `dump`
// prints what a store holds as JSON lines; `gemma-ts train --teacher-store` trains on one;
// `on-policy` trains a student on a teacher's scores of its own samples (distill/on-policy-run.ts).
// This file parses the flags.
import { once } from "node:events";
import { resolve } from "node:path";
import type { TextUnit } from "@gemma-ts/data";
import { DEFAULT_STORE_SELECTION, dumpTeacherStore, ENDPOINT_STORE_SELECTION, storeSelectionFromFlags, type ValueDtype } from "@gemma-ts/distill";
import { Command, Option } from "commander";
import { distillErrorsAsUsage } from "../distill/distill-errors.js";
import { ON_POLICY_METRICS_FILE, runOnPolicy } from "../distill/on-policy-run.js";
import { KEEP_CHECKPOINTS, ON_POLICY_DEFAULTS, type OnPolicyAttemptOptions, type OnPolicySettings } from "../distill/on-policy-settings.js";
import { runStore } from "../distill/store-run.js";
import { nonNegativeInteger, nonNegativeNumber, positiveInteger, positiveNumber, seedValue, unitInterval } from "../training/flag-values.js";

const TEXT_UNITS: readonly TextUnit[] = ["file", "paragraph", "line"];
const API_KEY_HELP = "an endpoint teacher's API key, sent as Authorization: Bearer (default: the OPENAI_API_KEY environment variable, when set)";
const selectionName = (selection: { mode: string; k: number }) => `${selection.mode === "top-k" ? "--top-k" : "--sample"} ${selection.k}`;
const DEFAULT_SELECTION = `${selectionName(DEFAULT_STORE_SELECTION)} for a local teacher, ${selectionName(ENDPOINT_STORE_SELECTION)} for an endpoint`;

interface StoreFlags {
  teacher: string;
  tokenizer?: string;
  teacherModel?: string;
  teacherContext?: number;
  apiKey?: string;
  data: string[];
  out: string;
  topK?: string;
  sample?: string;
  temperature?: string;
  seqLen?: number;
  textUnit: TextUnit;
  seed: number;
  batchTokens?: number;
  chunkPositions?: number;
  valueDtype?: ValueDtype;
  threads?: number;
}

export function distillCommand(): Command {
  const distill = new Command("distill").description(
    "knowledge distillation: score a corpus once with a teacher into a teacher store (then train --teacher-store), print a store, or distill on the student's own samples (on-policy)",
  );
  distill.addCommand(storeCommand());
  distill.addCommand(dumpCommand());
  distill.addCommand(onPolicyCommand());
  // Usage errors of the subcommands print as the parent's do (its output is configured by main).
  for (const command of distill.commands) {
    command.configureOutput({
      outputError: (text, write) => {
        const parent = distill.configureOutput().outputError;
        if (parent) parent(text, write);
        else write(text);
      },
    });
  }
  return distill;
}

function storeCommand(): Command {
  return new Command("store")
    .description(
      "run a teacher once over the data and write its sparse next-token distributions (top-k, or k sampled) into a checksummed teacher store; rerun the same command to continue an interrupted run",
    )
    .requiredOption(
      "--teacher <dir|url>",
      "the teacher: a Hugging Face folder or an exported ONNX folder (convert --to-onnx) with tokenizer.json (the data is tokenized with it), or an OpenAI-compatible endpoint (http://host:port/v1) that returns prompt log-probs, with --tokenizer",
    )
    .option("--tokenizer <file>", "an endpoint teacher's tokenizer.json (its model's; checked against the endpoint)")
    .option("--teacher-model <name>", "an endpoint teacher's model (default: its only one)")
    .option("--teacher-context <n>", "an endpoint teacher's context length, when /v1/models does not report it (max_model_len)", positiveInteger("--teacher-context"))
    .option("--api-key <key>", API_KEY_HELP)
    .requiredOption("--data <files...>", "the training files, as train reads them: .txt/.md (see --text-unit), .jsonl, .parquet; .txt/.jsonl may be .gz")
    .requiredOption("--out <dir>", "the store's folder")
    .addOption(new Option("--top-k <k>", `keep the k most likely ids per token (default: ${DEFAULT_SELECTION})`).conflicts("sample"))
    .option("--sample <k>", "keep k draws from the teacher's distribution per token instead (unbiased weights count / k)")
    .option("--temperature <t>", `divides the teacher's soft-capped logits before the softmax (default ${DEFAULT_STORE_SELECTION.temperature})`)
    .option("--seq-len <n>", "tokens per teacher window; a longer document is cut into windows (default: the teacher's context, at most 1024)", positiveInteger("--seq-len"))
    .addOption(new Option("--text-unit <unit>", "what a document is in a text file; give the student's train run the same").choices(TEXT_UNITS).default("file"))
    .option("--seed <n>", "seed of the draws of --sample", seedValue("--seed"), 0)
    .option("--batch-tokens <n>", "most tokens (rows x longest row) per teacher call (default: about 512 MiB of logits)", positiveInteger("--batch-tokens"))
    .option("--chunk-positions <n>", "tokens per chunk file, the unit a rerun keeps (default 16384)", positiveInteger("--chunk-positions"))
    .addOption(new Option("--value-dtype <dtype>", "how log-probs are stored (default float16)").choices(["float16", "float32"]))
    .option("--threads <n>", "onnxruntime intra-op threads (default one per core)", positiveInteger("--threads"))
    .action(async (flags: StoreFlags) => {
      const endpoint = /^https?:\/\//i.test(flags.teacher);
      const selection = await distillErrorsAsUsage(async () =>
        storeSelectionFromFlags({ topK: flags.topK, sample: flags.sample, temperature: flags.temperature }, endpoint ? ENDPOINT_STORE_SELECTION : DEFAULT_STORE_SELECTION),
      );
      const out = resolve(flags.out);
      const { index, scored } = await runStore({
        teacher: /^https?:\/\//i.test(flags.teacher) ? flags.teacher : resolve(flags.teacher),
        tokenizer: flags.tokenizer === undefined ? undefined : resolve(flags.tokenizer),
        teacherModel: flags.teacherModel,
        teacherContext: flags.teacherContext,
        apiKey: endpointKey(flags.apiKey),
        data: flags.data.map((path) => resolve(path)),
        textUnit: flags.textUnit,
        out,
        selection,
        seed: flags.seed,
        windowLength: flags.seqLen,
        batchTokens: flags.batchTokens,
        chunkPositions: flags.chunkPositions,
        valueDtype: flags.valueDtype,
        threads: flags.threads,
      });
      const bytes = index.documentsFile.bytes + index.chunks.reduce((sum, chunk) => sum + chunk.bytes, 0);
      const what = index.mode === "top-k" ? `top-${index.k}` : `${index.k} samples`;
      const speed = scored.tokens > 0 ? `, ${Math.round(scored.tokens / scored.seconds).toLocaleString("en-US")} tokens/s` : " (complete already)";
      process.stdout.write(
        `stored ${index.positions.toLocaleString("en-US")} tokens of ${index.shards.documents.toLocaleString("en-US")} documents in ${out}: ${what} at temperature ${index.temperature}, ${index.bytesPerToken} bytes per token, ${(bytes / 2 ** 20).toFixed(2)} MiB${speed}\n`,
      );
    });
}

function dumpCommand(): Command {
  return new Command("dump")
    .description('print a teacher store as JSON lines, one per token in corpus order: {"position", "ids", "logprobs"} (sampled stores: log(count / k))')
    .argument("<store>", "the store's folder")
    .option("--limit <n>", "print at most this many tokens", positiveInteger("--limit"))
    .action(async (store: string, flags: { limit?: number }) => {
      // `dump | head` closes the pipe early: that ends the dump, it is not an error.
      process.stdout.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code !== "EPIPE") throw error;
        process.exit(0);
      });
      await distillErrorsAsUsage(async () => {
        for await (const record of dumpTeacherStore(resolve(store), flags.limit === undefined ? {} : { limit: flags.limit })) {
          if (!process.stdout.write(`${JSON.stringify(record)}\n`)) await once(process.stdout, "drain");
        }
      });
    });
}

/** The flag, else OPENAI_API_KEY as the openai SDK reads it; an empty one is none. */
function endpointKey(flag: string | undefined): string | undefined {
  const key = flag ?? process.env.OPENAI_API_KEY;
  return key === "" ? undefined : key;
}

interface OnPolicyFlags {
  student?: string;
  teacher?: string;
  teacherModel?: string;
  teacherContext?: number;
  apiKey?: string;
  prompts?: string;
  out: string;
  lambda?: number;
  beta?: number;
  steps?: number;
  batchSize?: number;
  maxNewTokens?: number;
  topK?: number;
  lr?: number;
  minLr?: number;
  warmupSteps?: number;
  seed?: number;
  checkpointEvery?: number;
  resume?: boolean;
  threads?: number;
}

function onPolicyCommand(): Command {
  const defaults = ON_POLICY_DEFAULTS;
  // No commander defaults: a flag left out of a --resume takes the run's value, not the default.
  return new Command("on-policy")
    .description(
      `on-policy distillation (GKD): the student samples completions of chat prompts, the teacher scores them, the student trains on the teacher's top-k by JSD(beta); writes checkpoints, ${ON_POLICY_METRICS_FILE} and the student to --out, and continues a run with --resume`,
    )
    .option("--student <dir>", "the student: a Hugging Face folder with tokenizer.json (required to start a run)")
    .option(
      "--teacher <dir|url>",
      "the teacher, sharing the student's tokenizer: a Hugging Face folder, an exported ONNX folder (convert --to-onnx), or an OpenAI-compatible endpoint (http://host:port/v1) that returns prompt log-probs (required to start a run)",
    )
    .option("--teacher-model <name>", "an endpoint teacher's model (default: its only one)")
    .option("--teacher-context <n>", "an endpoint teacher's context length, when /v1/models does not report it (max_model_len)", positiveInteger("--teacher-context"))
    .option("--api-key <key>", `${API_KEY_HELP}; never saved, so give it again to --resume`)
    .option("--prompts <file>", 'chats as JSONL {"messages": [...]}; a final assistant message is the dataset response that steps without sampling train on (required to start a run)')
    .requiredOption("--out <dir>", `the run's folder (run.json, ${ON_POLICY_METRICS_FILE}, checkpoint-<step>/, then the trained student and tokenizer.json)`)
    .option("--lambda <l>", `the share of steps on the student's own samples; the rest use the dataset's responses (default ${defaults.lambda}; 1 when there are none)`, unitInterval("--lambda"))
    .option("--beta <b>", `JSD(beta): 0 forward KL, 1 reverse KL (default ${defaults.beta})`, unitInterval("--beta"))
    .option("--steps <n>", `training steps (default ${defaults.steps})`, positiveInteger("--steps"))
    .option("--batch-size <n>", `prompts per step (default ${defaults.batchSize})`, positiveInteger("--batch-size"))
    .option("--max-new-tokens <n>", `longest sampled completion (default ${defaults.maxNewTokens})`, positiveInteger("--max-new-tokens"))
    .option("--top-k <k>", `teacher entries per token (default ${defaults.k})`, positiveInteger("--top-k"))
    .option("--lr <x>", `peak learning rate of the warmup-cosine schedule (default ${defaults.lr})`, positiveNumber("--lr"))
    .option("--min-lr <x>", "the rate the cosine decays to (default --lr / 10)", nonNegativeNumber("--min-lr"))
    .option("--warmup-steps <n>", "linear warmup steps (default steps / 20, at most 1000)", nonNegativeInteger("--warmup-steps"))
    .option("--seed <n>", `seed of the prompts drawn, the on/off-policy draws and the sampling (default ${defaults.seed})`, seedValue("--seed"))
    .option("--checkpoint-every <n>", `steps between checkpoints (default ${defaults.checkpointEvery}); one is also written at the end, and the newest ${KEEP_CHECKPOINTS} are kept`, positiveInteger("--checkpoint-every"))
    .option("--resume", "continue the run in --out from its latest checkpoint (flags left out take the run's values; those given must agree)")
    .option("--threads <n>", "onnxruntime intra-op threads (default one per core; a resumed run keeps the run's, for losses equal bit for bit)", positiveInteger("--threads"))
    .action(async (flags: OnPolicyFlags) => {
      const out = resolve(flags.out);
      const given: Partial<OnPolicySettings> = {
        student: flags.student === undefined ? undefined : resolve(flags.student),
        teacher: flags.teacher === undefined ? undefined : /^https?:\/\//i.test(flags.teacher) ? flags.teacher : resolve(flags.teacher),
        prompts: flags.prompts === undefined ? undefined : resolve(flags.prompts),
        teacherModel: flags.teacherModel,
        teacherContext: flags.teacherContext,
        lambda: flags.lambda,
        beta: flags.beta,
        steps: flags.steps,
        batchSize: flags.batchSize,
        maxNewTokens: flags.maxNewTokens,
        k: flags.topK,
        lr: flags.lr,
        minLr: flags.minLr,
        warmupSteps: flags.warmupSteps,
        seed: flags.seed,
      };
      const givenOptions: Partial<OnPolicyAttemptOptions> = {
        ...(flags.checkpointEvery === undefined ? {} : { checkpointEvery: flags.checkpointEvery }),
        ...(flags.threads === undefined ? {} : { threads: flags.threads }),
      };
      const { records, start } = await runOnPolicy(
        { out, resume: flags.resume === true, given, givenOptions, apiKey: endpointKey(flags.apiKey) },
        (line) => process.stderr.write(`${line}\n`),
      );
      const last = records.at(-1);
      const ran = records.length - start;
      process.stdout.write(`distilled ${ran} steps into ${out}${start > 0 ? ` (resumed at step ${start})` : ""}${last ? `: last jsd ${last.loss.toFixed(4)}` : ""}\n`);
    });
}
