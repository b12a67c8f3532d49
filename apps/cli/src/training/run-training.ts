// One training run, start to end, as `gemma-ts train` runs it: settings, tokenizer, token shards,
// model and trainer, then the steps, with metrics, evaluations and checkpoints, and the final
// model. Every input of a step is a pure function of the run's settings and the step number (the
// batch of the data package's source, its teacher inputs when the run is runInputs from a teacher
// store, the learning rate of the schedule), and a checkpoint holds
// the weights and the optimiser's moments and step count, so a run resumed from a checkpoint
// computes, step for step and bit for bit, the losses the uninterrupted run computes.
import { mkdir, readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import {
  type Gemma2Config,
  type Gemma2Params,
  initParams,
  type LoraConfig,
  loraConfig,
  mergeLora,
  presetConfig,
  Trainer,
  type TrainBatch,
  warmupCosine,
} from "@gemma-ts/core";
import { loadHfCheckpoint, readHfConfig, saveHfCheckpoint, saveLoraAdapter } from "@gemma-ts/core/node";
import { BatchSource, batchSources, type TokenShards } from "@gemma-ts/data";
import { InvalidArgumentError } from "commander";
import { STORE_TOKENIZER_FILE } from "../distill/store-run.js";
import { graphBackend } from "../graph-backend.js";
import { type CheckpointModel, loadCheckpoint, modelWeights, saveCheckpoint } from "./checkpoint.js";
import { evaluateOrdered } from "./evaluate-pass.js";
import { writeLossPlot } from "./loss-plot.js";
import { type EvalRecord, MetricsLog, type StepRecord } from "./metrics-log.js";
import {
  ADAPTER_DIR,
  checkpointDir,
  checkpointSteps,
  DATA_DIR,
  EVAL_DATA_DIR,
  LOSS_PLOT_FILE,
  METRICS_FILE,
  pruneCheckpoints,
  removePartialCheckpoints,
  TOKENIZER_FILE,
} from "./run-folder.js";
import { newRunSettings, readRunFile, RUN_FILE, type RunOptions, type RunSettings, resumedRunSettings, runOptions, writeRunFile } from "./run-settings.js";
import { type RunObjective, runObjective } from "./run-objective.js";
import { runTokenizer } from "./run-tokenizer.js";
import { tokenShards } from "./token-data.js";
import { trainProgress } from "./train-progress.js";

export interface TrainRunOptions {
  /** The run's folder, absolute. */
  out: string;
  resume: boolean;
  /** The settings and options given as flags (absent: not given). */
  given: Partial<RunSettings>;
  givenOptions: Partial<RunOptions>;
}

export async function runTraining(options: TrainRunOptions): Promise<void> {
  const { out } = options;
  await mkdir(out, { recursive: true });
  const saved = await readRunFile(out);
  if (saved && !options.resume) {
    throw new InvalidArgumentError(`${out} already holds a training run (${RUN_FILE}); pass --resume to continue it, or choose another --out`);
  }
  // A run is saved (run.json) just before its first step, so without one there is nothing to resume.
  const resuming = saved !== undefined;
  if (options.resume && !saved && options.given.preset === undefined && options.given.model === undefined) {
    throw new InvalidArgumentError(`${out} holds no run to resume (no ${RUN_FILE}); give the run's flags to start one`);
  }
  if (!saved && (await checkpointSteps(out)).length > 0) {
    throw new InvalidArgumentError(`${out} holds checkpoints but no ${RUN_FILE}, so they cannot be resumed; choose another --out`);
  }
  const settings = saved ? resumedRunSettings(saved.settings, options.given, join(out, RUN_FILE)) : newRunSettings(options.given);
  // The final model is written into --out, which must not overwrite the base a resumed LoRA run reads.
  if (settings.model !== null && resolve(settings.model) === out) throw new InvalidArgumentError("--out must be another folder than --model");
  const { checkpointEvery, evalEvery, keepCheckpoints, logEvery, threads, backend } = runOptions(options.givenOptions, saved?.options);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  await removePartialCheckpoints(out);

  const config = settings.preset !== null ? presetConfig(settings.preset) : await readHfConfig(settings.model!);
  if (settings.seqLen > config.maxPositionEmbeddings) {
    throw new InvalidArgumentError(`--seq-len ${settings.seqLen} is longer than the model's ${config.maxPositionEmbeddings} positions`);
  }
  const tokenizer = await runTokenizer({
    out,
    resuming,
    given: settings.tokenizer,
    modelDir: settings.model,
    fallback: settings.teacherStore !== null ? join(settings.teacherStore, STORE_TOKENIZER_FILE) : settings.teacher !== null ? join(settings.teacher, TOKENIZER_FILE) : null,
    data: settings.data,
    textUnit: settings.textUnit,
    vocabSize: config.vocabSize,
    log: say,
  });
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new InvalidArgumentError(`the tokenizer has ${tokenizer.vocabSize} tokens, more than the model's vocabulary of ${config.vocabSize}`);
  }
  const shardsOf = (dir: string, inputs: readonly string[]) => tokenShards({ dir: join(out, dir), inputs, tokenizer, textUnit: settings.textUnit, reuse: resuming, log: say });
  const opened: TokenShards[] = [];
  const shards = await shardsOf(DATA_DIR, settings.data);
  opened.push(shards);
  let trainer: Trainer | undefined;
  let runInputs: RunObjective | undefined;
  try {
    const evalShards = settings.eval ? await shardsOf(EVAL_DATA_DIR, settings.eval) : undefined;
    if (evalShards) opened.push(evalShards);
    const shape = { batchSize: settings.batchSize, sequenceLength: settings.seqLen, seed: settings.seed, packing: settings.packing };
    const sources = batchSources(shards, { ...shape, ...(settings.heldOut !== null ? { heldOut: { fraction: settings.heldOut } } : {}) });
    const evalSource = evalShards ? new BatchSource(evalShards, shape) : sources.heldOut;
    const inputs = await runObjective(settings, shards, sources.train, config.vocabSize, threads);
    runInputs = inputs;
    if (saved?.teacherStoreIndex !== undefined && saved.teacherStoreIndex !== inputs.storeIndex) {
      throw new InvalidArgumentError(`--teacher-store ${settings.teacherStore} has changed since the run began (its index is not the one in ${RUN_FILE}); a resumed run needs the store it began with`);
    }

    const lora = settings.loraRank !== null ? loraConfig(settings.loraRank, { alpha: settings.loraAlpha!, targetModules: settings.loraModules! }) : undefined;
    const latest = resuming ? (await checkpointSteps(out)).at(-1) : undefined;
    // The base weights: the input model, or the preset initialised from the seed. A resumed full
    // fine-tune takes every weight from its checkpoint instead.
    const base = lora || latest === undefined ? await baseWeights(settings, config) : undefined;
    const resumed = latest !== undefined ? await loadCheckpoint(checkpointDir(out, latest), latest, { config, lora }) : undefined;
    trainer = new Trainer({
      config,
      backend: await graphBackend(backend, threads),
      params: base ?? resumed!.trainable,
      objective: inputs.objective,
      ...(lora ? { lora: { config: lora } } : {}),
      optimizer: { weightDecay: settings.weightDecay, noDecay: (name) => name.endsWith("norm.weight"), maxGradNorm: settings.maxGradNorm },
      seed: settings.seed,
    });
    if (resumed) trainer.load(resumed);
    const storeIndex = inputs.storeIndex === undefined ? {} : { teacherStoreIndex: inputs.storeIndex };
    // A KD weight left to its default is saved resolved, so the run resumes with the weight it used.
    await writeRunFile(out, { settings: { ...settings, kdWeight: inputs.kdWeight }, options: { checkpointEvery, evalEvery, keepCheckpoints, logEvery, threads, backend }, ...storeIndex });

    const model: CheckpointModel = {
      config,
      lora,
      baseModel: settings.model ?? settings.preset!,
      tokenizerJson: await readFile(join(out, TOKENIZER_FILE)),
    };
    const start = latest ?? 0;
    const title = `${settings.preset ?? basename(settings.model!)}${lora ? `, LoRA rank ${lora.rank}` : ""}`;
    const metrics = await MetricsLog.open(join(out, METRICS_FILE), start);
    const progress = trainProgress({ total: settings.steps, start, logEvery });
    try {
      say(
        start > 0
          ? `resuming ${out} from step ${start} of ${settings.steps}`
          : `training ${title}${inputs.description ? `, ${inputs.description}` : ""}: ${trainer.trainableSize.toLocaleString("en-US")} trainable weights, ${settings.steps} steps of ${settings.gradAccum > 1 ? `${settings.gradAccum} x ` : ""}${settings.batchSize} x ${settings.seqLen} tokens (${sources.train.stepsPerEpoch.toFixed(1)} steps per epoch)`,
      );
      const schedule = warmupCosine({ maxLr: settings.lr, minLr: settings.minLr, warmupSteps: settings.warmupSteps, totalSteps: settings.steps });
      const microBatches = (step: number): Promise<TrainBatch[]> =>
        Promise.all(Array.from({ length: settings.gradAccum }, async (_, i) => inputs.training(await sources.train.batchAt(step * settings.gradAccum + i))));
      const evaluate = async (step: number) => {
        if (!evalSource) return;
        const result = await evaluateOrdered(trainer!, evalSource, inputs.evaluation);
        const record: EvalRecord = { step, eval_loss: result.loss, eval_perplexity: result.perplexity, eval_tokens: result.tokens };
        await metrics.append(record);
        progress.note(`eval at step ${step}: loss ${result.loss.toFixed(4)}, perplexity ${result.perplexity.toFixed(2)} (${result.tokens.toLocaleString("en-US")} tokens)`);
      };
      const checkpoint = async (step: number) => {
        const dir = await saveCheckpoint(out, step, trainer!, model);
        await pruneCheckpoints(out, keepCheckpoints);
        await writeLossPlot(join(out, LOSS_PLOT_FILE), metrics.records, title);
        progress.note(`saved ${dir}`);
      };

      // The next step's batches are read while this step runs.
      let next = start < settings.steps ? microBatches(start) : undefined;
      for (let step = start; step < settings.steps; step++) {
        const started = performance.now();
        const batches = await next!;
        next = step + 1 < settings.steps ? microBatches(step + 1) : undefined;
        next?.catch(() => undefined);
        const lr = schedule(step);
        const { loss, gradNorm } = await trainer.step(batches, lr);
        const seconds = (performance.now() - started) / 1000;
        const done = step + 1;
        const record: StepRecord = {
          step: done,
          loss,
          lr,
          grad_norm: gradNorm,
          tokens_per_second: (settings.gradAccum * sources.train.tokensPerStep) / seconds,
          epoch: sources.train.epochAt(done * settings.gradAccum),
          seconds,
        };
        await metrics.append(record);
        progress.step(record);
        if (!Number.isFinite(loss)) throw new InvalidArgumentError(`the loss is ${loss} at step ${done}; try a lower --lr`);
        if (done % evalEvery === 0 || done === settings.steps) await evaluate(done);
        if (done % checkpointEvery === 0 || done === settings.steps) await checkpoint(done);
      }
      progress.stop();

      // The final model: the trained weights, or with LoRA the adapter and the base merged with it.
      const state = await trainer.state();
      if (lora) {
        await saveLoraAdapter(join(out, ADAPTER_DIR), lora, state.trainable, { baseModel: model.baseModel });
        await saveHfCheckpoint(out, config, mergeLora(config, lora, base!, state.trainable));
      } else {
        await saveHfCheckpoint(out, config, await modelWeights(trainer, state));
      }
      await writeLossPlot(join(out, LOSS_PLOT_FILE), metrics.records, title);
      say(summary(metrics, out, lora));
    } finally {
      progress.stop();
      await metrics.close();
    }
  } finally {
    await trainer?.dispose();
    await runInputs?.close();
    for (const shardSet of opened) await shardSet.close();
  }
}

async function baseWeights(settings: RunSettings, config: Gemma2Config): Promise<Gemma2Params> {
  if (settings.preset !== null) return initParams(config, settings.seed);
  return (await loadHfCheckpoint(settings.model!)).params;
}

function summary(metrics: MetricsLog, out: string, lora: LoraConfig | undefined): string {
  const last = metrics.records.findLast((record): record is StepRecord => "loss" in record);
  const evaluation = metrics.records.findLast((record): record is EvalRecord => "eval_loss" in record);
  const parts = [`done: ${last?.step ?? 0} steps, loss ${last?.loss.toFixed(4) ?? "-"}`];
  if (evaluation) parts.push(`eval loss ${evaluation.eval_loss.toFixed(4)} (perplexity ${evaluation.eval_perplexity.toFixed(2)})`);
  parts.push(lora ? `model (merged) in ${out}, adapter in ${join(out, ADAPTER_DIR)}` : `model in ${out}`);
  return parts.join("; ");
}
