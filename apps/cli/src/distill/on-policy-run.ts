// gemma-ts distill on-policy: the student (a Hugging Face folder) generates completions of chat
// prompts, a teacher (a local Hugging Face or exported ONNX folder, or an OpenAI-compatible
// endpoint) scores them, and the student trains on the teacher's top-k (the distill package's
// OnPolicyDistiller) at the rate of a warmup-cosine schedule. Prompts are rendered with the Gemma
// chat template up to the model turn header; a conversation that ends with an assistant message
// gives that message as the dataset's response (the off-policy data lambda mixes in). The output
// folder holds the run's settings (run.json), one JSON line per step (metrics.jsonl), checkpoints
// and at the end the student's weights and tokenizer. Every draw of a step comes from (seed, step)
// and the rate from the step, so a run resumed from a checkpoint computes the uninterrupted run's
// losses, bit for bit, and ends with the same weights.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { warmupCosine } from "@gemma-ts/core";
import { loadHfCheckpoint, OnnxBackend, saveHfCheckpoint } from "@gemma-ts/core/node";
import { isChatDocument, readDocuments, tokenizerFingerprint } from "@gemma-ts/data";
import { LocalTeacher, type OnPolicyExample, OnPolicyDistiller, type OnPolicyStepRecord, OpenAITeacher, type Teacher, VocabularyMismatchError } from "@gemma-ts/distill";
import { ChatTemplateError, renderGemmaChat, type Tokenizer, tokenizerFromJson } from "@gemma-ts/tokenizer";
import { InvalidArgumentError } from "commander";
import { RecordLog } from "../training/metrics-log.js";
import { checkpointSteps, pruneCheckpoints, removePartialCheckpoints } from "../training/run-folder.js";
import { RUN_FILE } from "../training/run-settings.js";
import { distillErrorsAsUsage } from "./distill-errors.js";
import { loadOnPolicyCheckpoint, saveOnPolicyCheckpoint } from "./on-policy-checkpoint.js";
import {
  KEEP_CHECKPOINTS,
  newOnPolicySettings,
  ON_POLICY_DEFAULTS,
  type OnPolicyAttemptOptions,
  type OnPolicySettings,
  readOnPolicyRunFile,
  resumedOnPolicySettings,
  writeOnPolicyRunFile,
} from "./on-policy-settings.js";
import { withKeyHint } from "./store-run.js";

export const ON_POLICY_METRICS_FILE = "metrics.jsonl";

/**
 * A line of metrics.jsonl: the distill package's step record (`step` 0-based, `loss`, `gradNorm`,
 * `onPolicy`, `tokens`) and the step's `lr`.
 */
export interface OnPolicyMetricsRecord extends OnPolicyStepRecord {
  lr: number;
}

export interface OnPolicyRunRequest {
  /** The run's folder, absolute. */
  out: string;
  resume: boolean;
  /** The settings and options given as flags (absent: not given). */
  given: Partial<OnPolicySettings>;
  givenOptions: Partial<OnPolicyAttemptOptions>;
  /** An endpoint teacher's API key, sent as Authorization: Bearer; never saved. */
  apiKey?: string | undefined;
}

export interface OnPolicyRunResult {
  /** Every step's record in metrics.jsonl, those of earlier attempts included. */
  records: OnPolicyMetricsRecord[];
  /** The step this attempt began at (0, or the checkpoint's it resumed from). */
  start: number;
}

export async function runOnPolicy(request: OnPolicyRunRequest, say: (line: string) => void): Promise<OnPolicyRunResult> {
  const { out } = request;
  const saved = await readOnPolicyRunFile(out);
  if (saved && !request.resume) throw new InvalidArgumentError(`${out} already holds an on-policy run (${RUN_FILE}); pass --resume to continue it, or choose another --out`);
  if (request.resume && !saved && request.given.student === undefined) {
    throw new InvalidArgumentError(`${out} holds no run to resume (no ${RUN_FILE}); give the run's flags to start one`);
  }
  // A run is saved just before its first step, so checkpoints without one belong to nothing resumable.
  if (!saved && (await folderCheckpoints(out)).length > 0) throw new InvalidArgumentError(`${out} holds checkpoints but no ${RUN_FILE}, so they cannot be resumed; choose another --out`);
  const settings = saved ? resumedOnPolicySettings(saved.settings, request.given, join(out, RUN_FILE)) : newOnPolicySettings(request.given);
  const options: OnPolicyAttemptOptions = {
    checkpointEvery: request.givenOptions.checkpointEvery ?? saved?.options.checkpointEvery ?? ON_POLICY_DEFAULTS.checkpointEvery,
    threads: request.givenOptions.threads ?? saved?.options.threads ?? null,
  };
  // The final weights are written into --out: never over the student the run starts from.
  if (resolve(settings.student) === out) throw new InvalidArgumentError("--out must be another folder than --student");

  const tokenizerJson = await readFile(join(settings.student, "tokenizer.json")).catch((error: Error) => {
    throw new InvalidArgumentError(`--student ${settings.student} has no readable tokenizer.json (${error.message})`);
  });
  const tokenizer = tokenizerFromJson(tokenizerJson);
  const examples = await promptExamples(settings.prompts, tokenizer);
  // The student's own weights even when resuming: they fix the order of the trainer's flat buffer
  // (and with it the order of the gradient norm's sum) as the run began; the checkpoint's replace them.
  const { config, params } = await loadHfCheckpoint(settings.student);
  const teacher = await distillErrorsAsUsage(() => openTeacher(settings, options, request.apiKey, tokenizer), withKeyHint);
  let distiller: OnPolicyDistiller | undefined;
  try {
    const fingerprint = tokenizerFingerprint(tokenizer);
    if (teacher.vocabulary.fingerprint !== fingerprint) {
      throw new InvalidArgumentError(new VocabularyMismatchError("tokenizer", teacher.vocabulary.fingerprint, fingerprint).message);
    }
    const stopTokens = [tokenizer.special.endOfTurn, tokenizer.special.eos].filter((id): id is number => id !== undefined);
    const created = await distillErrorsAsUsage(async () =>
      new OnPolicyDistiller({
        config,
        params,
        backend: new OnnxBackend(options.threads === null ? {} : { intraOpThreads: options.threads }),
        teacher,
        examples,
        batchSize: settings.batchSize,
        maxNewTokens: settings.maxNewTokens,
        k: settings.k,
        beta: settings.beta,
        lambda: settings.lambda,
        seed: settings.seed,
        stopTokens,
      }),
    );
    distiller = created;
    await mkdir(out, { recursive: true });
    await removePartialCheckpoints(out);
    const latest = saved ? (await checkpointSteps(out)).at(-1) : undefined;
    if (latest !== undefined) created.resume(await loadOnPolicyCheckpoint(out, latest, config));
    await writeOnPolicyRunFile(out, { settings, options });

    const start = latest ?? 0;
    // The records of steps 0 .. start - 1, in sequence (a gap or a repeat ends what is kept).
    const metrics = await RecordLog.open<OnPolicyMetricsRecord>(join(out, ON_POLICY_METRICS_FILE), (record, kept) => record.step === kept.length && record.step < start);
    try {
      const responses = examples.filter((example) => example.response !== undefined).length;
      say(
        start > 0
          ? `resuming ${out} from step ${start} of ${settings.steps}`
          : `distilling on-policy from ${settings.teacher}: ${examples.length} prompts (${responses} with responses), ${settings.steps} steps of ${settings.batchSize}, lambda ${responses === 0 ? "1 (no responses)" : settings.lambda}, beta ${settings.beta}, top-${settings.k}`,
      );
      const schedule = warmupCosine({ maxLr: settings.lr, minLr: settings.minLr, warmupSteps: settings.warmupSteps, totalSteps: settings.steps });
      for (let step = start; step < settings.steps; step++) {
        const lr = schedule(step);
        const record = await distillErrorsAsUsage(() => created.train(lr), withKeyHint);
        await metrics.append({ ...record, lr });
        say(`step ${step + 1}/${settings.steps}: jsd ${record.loss.toFixed(4)} over ${record.tokens} ${record.onPolicy ? "sampled" : "dataset"} tokens, lr ${lr.toExponential(2)}`);
        if (!Number.isFinite(record.loss)) throw new InvalidArgumentError(`the loss is ${record.loss} at step ${step + 1}; try a lower --lr`);
        const done = step + 1;
        if (done % options.checkpointEvery === 0 || done === settings.steps) {
          const dir = await saveOnPolicyCheckpoint(out, await created.state(), config, tokenizerJson);
          await pruneCheckpoints(out, KEEP_CHECKPOINTS);
          say(`saved ${dir}`);
        }
      }
      await saveHfCheckpoint(out, config, await created.params());
      await writeFile(join(out, "tokenizer.json"), tokenizerJson);
      return { records: metrics.records, start };
    } finally {
      await metrics.close();
    }
  } finally {
    await distiller?.close();
    await teacher.close();
  }
}

/** Checkpoints in `out`, none when it does not exist yet. */
async function folderCheckpoints(out: string): Promise<number[]> {
  try {
    return await checkpointSteps(out);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/** A folder run here (Hugging Face or exported ONNX), or an OpenAI-compatible endpoint (it checks its vocabulary against the student's tokenizer). */
async function openTeacher(settings: OnPolicySettings, options: OnPolicyAttemptOptions, apiKey: string | undefined, tokenizer: Tokenizer): Promise<Teacher> {
  if (!/^https?:\/\//i.test(settings.teacher)) return LocalTeacher.fromFolder(settings.teacher, options.threads === null ? {} : { threads: options.threads });
  return OpenAITeacher.connect({
    url: settings.teacher,
    tokenizer,
    ...(apiKey === undefined ? {} : { apiKey }),
    ...(settings.teacherModel === null ? {} : { model: settings.teacherModel }),
    ...(settings.teacherContext === null ? {} : { contextLength: settings.teacherContext }),
  });
}

/** The prompts file's conversations as token ids: the prompt up to the model turn header, and the final assistant message if any. */
async function promptExamples(path: string, tokenizer: Tokenizer): Promise<OnPolicyExample[]> {
  const examples: OnPolicyExample[] = [];
  const encode = (text: string) => Array.from(tokenizer.encode(text, { addSpecialTokens: false }).ids);
  for await (const document of readDocuments(path)) {
    const at = `${path}: document ${examples.length + 1}`;
    if (!isChatDocument(document)) throw new InvalidArgumentError(`${at} is not a chat ({"messages": [...]}); on-policy distillation needs prompts`);
    const last = document.messages.at(-1);
    const answered = last?.role === "assistant";
    const prompt = answered ? document.messages.slice(0, -1) : document.messages;
    if (prompt.length === 0) throw new InvalidArgumentError(`${at} has no user message to prompt with`);
    let text: string;
    try {
      text = renderGemmaChat(prompt, { addGenerationPrompt: true });
    } catch (error) {
      if (!(error instanceof ChatTemplateError)) throw error;
      throw new InvalidArgumentError(`${at}: ${error.message}`);
    }
    // The response ends its turn, so the student learns to stop where the data does.
    examples.push({ prompt: encode(text), ...(answered ? { response: encode(`${last.content.trim()}<end_of_turn>`) } : {}) });
  }
  if (examples.length === 0) throw new InvalidArgumentError(`${path} holds no prompts`);
  return examples;
}
