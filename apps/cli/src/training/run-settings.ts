// A training run's settings, kept in <out>/run.json from just before its first step. Everything
// that decides the sequence of losses is here (model, data, tokenizer, shapes, schedule, optimiser,
// seed, LoRA, the teacher store), so `--resume` can continue with exactly the run that began: a
// flag given again must agree with the saved value, and a flag left out takes it. How often to
// checkpoint, evaluate or log, and the thread count, are the run's options: saved too, so a bare
// `--resume` continues as the run went, but free to change between attempts (the thread count
// decides the order of onnxruntime's sums, so keep it for losses equal bit for bit).
import type { LoraModule } from "@gemma-ts/core";
import type { Packing, TextUnit } from "@gemma-ts/data";
import { InvalidArgumentError } from "commander";
import { GRAPH_BACKENDS, type GraphBackendName } from "../graph-backend.js";
import { type RunFormat, readRunRecord, resumedSettings, writeRunRecord } from "./run-file.js";

export { RUN_FILE } from "./run-file.js";

const TRAIN_RUN: RunFormat = { format: "gemma-ts-train-run", version: 1, describe: "a gemma-ts run file (format gemma-ts-train-run, version 1)" };

export interface RunSettings {
  /** A built-in configuration initialised from `seed`, or a Hugging Face folder (absolute path). */
  preset: string | null;
  model: string | null;
  /** Training inputs and evaluation inputs, absolute paths. */
  data: string[];
  eval: string[] | null;
  /** Share of the training documents held out for evaluation (instead of `eval`). */
  heldOut: number | null;
  textUnit: TextUnit;
  /** The tokenizer.json given (absolute path); null: the model folder's, or one trained on the data. */
  tokenizer: string | null;
  steps: number;
  batchSize: number;
  seqLen: number;
  /** Micro-batches of batchSize rows per optimiser step. */
  gradAccum: number;
  /** "stream": documents packed end to end; "none": one document a row from its start, padded (chat SFT, so a reply sees its whole prompt). */
  packing: Packing;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  /** LoRA instead of full fine-tuning when loraRank is set. */
  loraRank: number | null;
  loraAlpha: number | null;
  loraModules: LoraModule[] | null;
  /** Distil from this teacher store (absolute path) instead of training on the next token alone. */
  teacherStore: string | null;
  /** With a top-k teacher store: read only each position's first (most likely) teacherTopK entries. */
  teacherTopK: number | null;
  /** Or distil online from this teacher model folder (absolute path), on its whole distribution. */
  teacher: string | null;
  /**
   * With a teacher store or teacher: the loss is kdWeight x KD + (1 - kdWeight) x next-token CE.
   * Null when not given, until the run starts: then the teacher's default (defaultKdWeight).
   */
  kdWeight: number | null;
}

export type SettingName = keyof RunSettings;

export interface RunOptions {
  /** Steps between checkpoints (each also redraws the loss plot). */
  checkpointEvery: number;
  /** Steps between evaluations, when the run has evaluation data. */
  evalEvery: number;
  /** Checkpoints kept, the newest; 0 keeps all. */
  keepCheckpoints: number;
  /** Steps between progress lines when stdout is not a terminal. */
  logEvery: number;
  /** onnxruntime's intra-op threads; null: its default (one per core). */
  threads: number | null;
  /** Where the training graphs run: onnxruntime on the CPU, or the GPU. */
  backend: GraphBackendName;
}

const DEFAULT_CHECKPOINT_EVERY = 100;

function savedBackend(name: string): GraphBackendName {
  if (!(GRAPH_BACKENDS as readonly string[]).includes(name)) throw new InvalidArgumentError(`the run's backend '${name}' is not one of ${GRAPH_BACKENDS.join(", ")}`);
  return name as GraphBackendName;
}

/** The options of this attempt: those given, else the run's saved ones, else the defaults. */
export function runOptions(given: Partial<RunOptions>, saved: RunOptions | undefined): RunOptions {
  const checkpointEvery = given.checkpointEvery ?? saved?.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  return {
    checkpointEvery,
    evalEvery: given.evalEvery ?? saved?.evalEvery ?? checkpointEvery,
    keepCheckpoints: given.keepCheckpoints ?? saved?.keepCheckpoints ?? 2,
    logEvery: given.logEvery ?? saved?.logEvery ?? 1,
    threads: given.threads ?? saved?.threads ?? null,
    backend: savedBackend(given.backend ?? saved?.backend ?? "core"),
  };
}

/** The flag that sets each setting, for messages. */
export const SETTING_FLAGS: Readonly<Record<SettingName, string>> = {
  preset: "--preset",
  model: "--model",
  data: "--data",
  eval: "--eval",
  heldOut: "--held-out",
  textUnit: "--text-unit",
  tokenizer: "--tokenizer",
  steps: "--steps",
  batchSize: "--batch-size",
  seqLen: "--seq-len",
  gradAccum: "--grad-accum",
  packing: "--packing",
  lr: "--lr",
  minLr: "--min-lr",
  warmupSteps: "--warmup-steps",
  weightDecay: "--weight-decay",
  maxGradNorm: "--max-grad-norm",
  seed: "--seed",
  loraRank: "--lora-rank",
  loraAlpha: "--lora-alpha",
  loraModules: "--lora-modules",
  teacherStore: "--teacher-store",
  teacherTopK: "--teacher-top-k",
  teacher: "--teacher",
  kdWeight: "--kd-weight",
};

/**
 * Settings added after run.json's first version, with the value that reproduces an older run (one
 * that did not have them), so its file still resumes.
 */
const LATER_SETTINGS: Partial<RunSettings> = { teacherStore: null, teacherTopK: null, teacher: null, kdWeight: null, packing: "stream" };

/** How a student sees its teacher: a top-k store, a sampled store, or the whole distribution online. */
export type TeacherKind = "top-k" | "sample" | "full";

/**
 * The KD weight when --kd-weight is not given, by what `gemma-ts experiment distill` measured: an
 * unbiased teacher target (k sampled draws, or the whole distribution) trains the best student
 * alone, as the Gemma 2 report's objective has it; a top-k target loses the tail, and the labels
 * mixed in half and half carry it (top-64 alone trained a worse student than scratch).
 */
export function defaultKdWeight(teacher: TeacherKind): number {
  return teacher === "top-k" ? 0.5 : 1;
}

/**
 * The settings of a new run: the flags given, defaults for the rest. Defaults follow the flags
 * they depend on: the floor of the cosine is a tenth of --lr, the warmup a twentieth of the steps
 * (at most 1,000), LoRA's alpha twice its rank (as core's loraConfig).
 */
export function newRunSettings(given: Partial<RunSettings>): RunSettings {
  if ((given.preset ?? null) === null && (given.model ?? null) === null) throw new InvalidArgumentError("train needs --preset NAME or --model DIR");
  for (const name of ["data", "steps", "batchSize", "seqLen"] as const) {
    if (given[name] === undefined) throw new InvalidArgumentError(`train needs ${SETTING_FLAGS[name]}`);
  }
  const lr = given.lr ?? 1e-3;
  const steps = given.steps!;
  const loraRank = given.loraRank ?? null;
  for (const name of ["loraAlpha", "loraModules"] as const) {
    if (loraRank === null && given[name] !== undefined && given[name] !== null) throw new InvalidArgumentError(`${SETTING_FLAGS[name]} needs --lora-rank`);
  }
  const teacherStore = given.teacherStore ?? null;
  const teacher = given.teacher ?? null;
  if (teacherStore !== null && teacher !== null) throw new InvalidArgumentError("--teacher-store and --teacher are two ways to distil: give one");
  const distilled = teacherStore !== null || teacher !== null;
  if (!distilled && given.kdWeight !== undefined && given.kdWeight !== null) throw new InvalidArgumentError("--kd-weight needs --teacher-store or --teacher");
  if (teacherStore === null && given.teacherTopK !== undefined && given.teacherTopK !== null) throw new InvalidArgumentError("--teacher-top-k needs --teacher-store");
  const settings: RunSettings = {
    preset: given.preset ?? null,
    model: given.model ?? null,
    data: given.data!,
    eval: given.eval ?? null,
    heldOut: given.heldOut ?? null,
    textUnit: given.textUnit ?? "file",
    tokenizer: given.tokenizer ?? null,
    steps,
    batchSize: given.batchSize!,
    seqLen: given.seqLen!,
    gradAccum: given.gradAccum ?? 1,
    packing: given.packing ?? "stream",
    lr,
    minLr: given.minLr ?? lr / 10,
    warmupSteps: given.warmupSteps ?? Math.min(1000, Math.ceil(steps / 20)),
    weightDecay: given.weightDecay ?? 0.01,
    maxGradNorm: given.maxGradNorm ?? 1,
    seed: given.seed ?? 0,
    loraRank,
    loraAlpha: loraRank === null ? null : (given.loraAlpha ?? 2 * loraRank),
    loraModules: loraRank === null ? null : (given.loraModules ?? ["q_proj", "k_proj", "v_proj", "o_proj"]),
    teacherStore,
    teacherTopK: given.teacherTopK ?? null,
    teacher,
    kdWeight: given.kdWeight ?? null,
  };
  if (settings.warmupSteps > steps) throw new InvalidArgumentError(`--warmup-steps ${settings.warmupSteps} is more than --steps ${steps}`);
  if (settings.minLr > lr) throw new InvalidArgumentError(`--min-lr ${settings.minLr} is above --lr ${lr}`);
  return settings;
}

/** The saved settings of a resumed run; a flag given again must agree with them. */
export function resumedRunSettings(saved: RunSettings, given: Partial<RunSettings>, file: string): RunSettings {
  return resumedSettings(saved, given, SETTING_FLAGS, file);
}

export interface RunFile {
  settings: RunSettings;
  options: RunOptions;
  /**
   * With a teacher store: a sha256 of its index (which holds every chunk's sha256), so a resumed
   * run refuses a store rewritten since it began, whose teacher inputs would differ.
   */
  teacherStoreIndex?: string;
}

export async function readRunFile(dir: string): Promise<RunFile | undefined> {
  const read = await readRunRecord(dir, TRAIN_RUN);
  if (!read) return undefined;
  const { file, record } = read;
  const settings = { ...LATER_SETTINGS, ...(read.settings as unknown as RunSettings) };
  const missing = (Object.keys(SETTING_FLAGS) as SettingName[]).find((name) => !(name in settings));
  if (missing) throw new InvalidArgumentError(`${file} lacks the setting '${missing}'`);
  const run: RunFile = { settings, options: runOptions({}, read.options as unknown as RunOptions) };
  if (typeof record.teacherStoreIndex === "string") run.teacherStoreIndex = record.teacherStoreIndex;
  return run;
}

export async function writeRunFile(dir: string, run: RunFile): Promise<void> {
  await writeRunRecord(dir, TRAIN_RUN, run);
}
