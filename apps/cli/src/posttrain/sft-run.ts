// SFT and behavioural cloning as `gemma-ts sft` and the recipe run them: the task chats (each
// prompt with its reference answer, or with a teacher's reply for a share of them) written into
// the run's folder, then an ordinary `gemma-ts train` run from the model on them, one chat a row
// (--packing none), the loss on the assistant's turns only (the data package's masks);
// held-out loss is on the evaluation tasks' reference answers. Resumable as any train run.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { runTraining } from "../training/run-training.js";
import { exists } from "../training/run-folder.js";
import { RUN_FILE, type RunSettings } from "../training/run-settings.js";
import { readTasks, writeTaskChats } from "./task-files.js";
import { teacherReplies } from "./teacher-replies.js";

export const SFT_DATA_DIR = "sft-data";

export interface SftRunOptions {
  /** The model to fine-tune (a Hugging Face folder with tokenizer.json). */
  model: string;
  out: string;
  /** Task files ({"kind", "prompt", "answer"} lines): what to learn, and what to evaluate on. */
  trainTasks: string;
  evalTasks: string | null;
  /** Behavioural cloning: a teacher (model folder or endpoint URL) answers this share of the prompts. */
  teacher: string | null;
  teacherShare: number;
  teacherModel?: string | undefined;
  apiKey?: string | undefined;
  maxNewTokens: number;
  training: Pick<RunSettings, "steps" | "batchSize" | "seqLen" | "lr" | "seed"> & Partial<Pick<RunSettings, "warmupSteps" | "weightDecay">>;
  evalEvery: number;
  threads: number | null;
  log: (line: string) => void;
}

/** Writes the run's chats (once, before its first step) and returns their files. */
export async function writeSftData(options: Omit<SftRunOptions, "model" | "training" | "evalEvery">): Promise<{ chats: string; evalChats: string | null }> {
  const dataDir = join(options.out, SFT_DATA_DIR);
  const chats = join(dataDir, "chats.jsonl");
  const evalChats = options.evalTasks === null ? null : join(dataDir, "eval-chats.jsonl");
  // A resumed run trains on the chats its first attempt wrote.
  if (await exists(join(options.out, RUN_FILE))) return { chats, evalChats };
  await mkdir(dataDir, { recursive: true });
  const tasks = await readTasks(options.trainTasks);
  let replies: string[] | undefined;
  if (options.teacher !== null && options.teacherShare > 0) {
    const cloned = Math.round(tasks.length * options.teacherShare);
    options.log(`behavioural cloning: ${options.teacher} answers ${cloned} of ${tasks.length} prompts`);
    const fromTeacher = await teacherReplies(options.teacher, tasks.slice(0, cloned), { maxNewTokens: options.maxNewTokens, threads: options.threads, model: options.teacherModel, apiKey: options.apiKey });
    replies = [...fromTeacher, ...tasks.slice(cloned).map((task) => task.answer)];
  }
  await writeTaskChats(chats, tasks, replies);
  if (evalChats !== null) await writeTaskChats(evalChats, await readTasks(options.evalTasks!));
  return { chats, evalChats };
}

/** SFT settings for a train run of `model` on the chats. */
export function sftRunSettings(model: string, data: { chats: string; evalChats: string | null }, training: SftRunOptions["training"]): Partial<RunSettings> {
  // One chat a row: packed rows would cut chats, and a reply read without its prompt teaches noise.
  return { model, data: [data.chats], eval: data.evalChats === null ? null : [data.evalChats], packing: "none", ...training };
}

export async function runSft(options: SftRunOptions): Promise<void> {
  const data = await writeSftData(options);
  await runTraining({
    out: options.out,
    resume: await exists(join(options.out, RUN_FILE)),
    given: sftRunSettings(options.model, data, options.training),
    givenOptions: {
      checkpointEvery: Math.min(options.training.steps, 100),
      evalEvery: options.evalEvery,
      keepCheckpoints: 1,
      logEvery: 50,
      ...(options.threads === null ? {} : { threads: options.threads }),
    },
  });
}
