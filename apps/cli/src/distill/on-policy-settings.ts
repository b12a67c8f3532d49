// An on-policy run's settings, kept in <out>/run.json from just before its first step. Everything
// that decides the sequence of losses is here (student, teacher, prompts, shapes, schedule, seed),
// so `--resume` continues exactly the run that began: a flag given again must agree with the saved
// value, and a flag left out takes it. The checkpoint interval and the thread count are the
// attempt's options: saved, so a bare `--resume` continues as the run went, but free to change
// (the thread count decides the order of onnxruntime's sums: keep it for losses equal bit for bit).
// The API key is never saved: give it again (or OPENAI_API_KEY) to resume.
import { InvalidArgumentError } from "commander";
import { type RunFormat, readRunRecord, resumedSettings, writeRunRecord } from "../training/run-file.js";

const ON_POLICY_RUN: RunFormat = {
  format: "gemma-ts-on-policy-run",
  version: 1,
  describe: "a gemma-ts on-policy run file (format gemma-ts-on-policy-run, version 1); choose another --out",
};

export interface OnPolicySettings {
  /** The student's Hugging Face folder (absolute path): its architecture, tokenizer and starting weights. */
  student: string;
  /** A teacher folder (absolute path) or an endpoint URL. */
  teacher: string;
  /** The prompts file (absolute path). */
  prompts: string;
  /** An endpoint teacher's model name (null: its only one) and context length (null: what /v1/models reports). */
  teacherModel: string | null;
  teacherContext: number | null;
  lambda: number;
  beta: number;
  steps: number;
  batchSize: number;
  maxNewTokens: number;
  k: number;
  /** The peak of the warmup-cosine schedule, its floor and its linear warmup. */
  lr: number;
  minLr: number;
  warmupSteps: number;
  seed: number;
}

export type OnPolicySettingName = keyof OnPolicySettings;

export interface OnPolicyAttemptOptions {
  /** Steps between checkpoints; one is also written after the last step. */
  checkpointEvery: number;
  /** onnxruntime's intra-op threads; null: its default (one per core). */
  threads: number | null;
}

/** The flag that sets each setting, for messages. */
export const ON_POLICY_FLAGS: Readonly<Record<OnPolicySettingName, string>> = {
  student: "--student",
  teacher: "--teacher",
  prompts: "--prompts",
  teacherModel: "--teacher-model",
  teacherContext: "--teacher-context",
  lambda: "--lambda",
  beta: "--beta",
  steps: "--steps",
  batchSize: "--batch-size",
  maxNewTokens: "--max-new-tokens",
  k: "--top-k",
  lr: "--lr",
  minLr: "--min-lr",
  warmupSteps: "--warmup-steps",
  seed: "--seed",
};

/** The defaults, shown in --help too. */
export const ON_POLICY_DEFAULTS = { lambda: 0.5, beta: 0.5, steps: 100, batchSize: 8, maxNewTokens: 64, k: 64, lr: 1e-5, seed: 0, checkpointEvery: 100 } as const;

/** Checkpoints kept, the newest, as `gemma-ts train` keeps by default. */
export const KEEP_CHECKPOINTS = 2;

/**
 * The settings of a new run: the flags given, defaults for the rest. As `gemma-ts train` defaults
 * them, the floor of the cosine is a tenth of --lr and the warmup a twentieth of the steps (at most 1,000).
 */
export function newOnPolicySettings(given: Partial<OnPolicySettings>): OnPolicySettings {
  for (const name of ["student", "teacher", "prompts"] as const) {
    if (given[name] === undefined) throw new InvalidArgumentError(`distill on-policy needs ${ON_POLICY_FLAGS[name]}`);
  }
  const lr = given.lr ?? ON_POLICY_DEFAULTS.lr;
  const steps = given.steps ?? ON_POLICY_DEFAULTS.steps;
  const settings: OnPolicySettings = {
    student: given.student!,
    teacher: given.teacher!,
    prompts: given.prompts!,
    teacherModel: given.teacherModel ?? null,
    teacherContext: given.teacherContext ?? null,
    lambda: given.lambda ?? ON_POLICY_DEFAULTS.lambda,
    beta: given.beta ?? ON_POLICY_DEFAULTS.beta,
    steps,
    batchSize: given.batchSize ?? ON_POLICY_DEFAULTS.batchSize,
    maxNewTokens: given.maxNewTokens ?? ON_POLICY_DEFAULTS.maxNewTokens,
    k: given.k ?? ON_POLICY_DEFAULTS.k,
    lr,
    minLr: given.minLr ?? lr / 10,
    warmupSteps: given.warmupSteps ?? Math.min(1000, Math.ceil(steps / 20)),
    seed: given.seed ?? ON_POLICY_DEFAULTS.seed,
  };
  if (settings.warmupSteps > steps) throw new InvalidArgumentError(`--warmup-steps ${settings.warmupSteps} is more than --steps ${steps}`);
  if (settings.minLr > lr) throw new InvalidArgumentError(`--min-lr ${settings.minLr} is above --lr ${lr}`);
  return settings;
}

/** The saved settings of a resumed run; a flag given again must agree with them. */
export function resumedOnPolicySettings(saved: OnPolicySettings, given: Partial<OnPolicySettings>, file: string): OnPolicySettings {
  return resumedSettings(saved, given, ON_POLICY_FLAGS, file);
}

export interface OnPolicyRunFile {
  settings: OnPolicySettings;
  options: OnPolicyAttemptOptions;
}

/** The run file in `dir`, if any; one of another kind (a `gemma-ts train` run) is refused. */
export async function readOnPolicyRunFile(dir: string): Promise<OnPolicyRunFile | undefined> {
  const read = await readRunRecord(dir, ON_POLICY_RUN);
  if (!read) return undefined;
  const { file, settings, options } = read;
  const missing = (Object.keys(ON_POLICY_FLAGS) as OnPolicySettingName[]).find((name) => !(name in settings));
  if (missing) throw new InvalidArgumentError(`${file} lacks the setting '${missing}'`);
  return {
    settings: settings as unknown as OnPolicySettings,
    options: {
      checkpointEvery: typeof options.checkpointEvery === "number" ? options.checkpointEvery : ON_POLICY_DEFAULTS.checkpointEvery,
      threads: typeof options.threads === "number" ? options.threads : null,
    },
  };
}

export async function writeOnPolicyRunFile(dir: string, run: OnPolicyRunFile): Promise<void> {
  await writeRunRecord(dir, ON_POLICY_RUN, run);
}
