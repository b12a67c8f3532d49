// The cost of distillation per training step: a gemma2-1m student's optimiser step on next-token
// labels alone, against the same step with the KD term of `train --teacher-store` (top-64 from a
// teacher store, mixed half and half with the labels' cross-entropy) and of `train --teacher` (the
// teacher's whole distribution, its logits an input), in the same run on the same batches. The
// store's read per batch (TeacherBatches.at) is timed apart: training overlaps it with the step.
// Run: pnpm --filter @gemma-ts/distill bench
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  denseDistillationWithLabels,
  distillationWithLabels,
  type Gemma2Config,
  Gemma2Model,
  HostTensor,
  initParams,
  languageModeling,
  type Objective,
  presetConfig,
  Random,
  Trainer,
  type TrainBatch,
} from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { type Batch, BatchSource, openTokenShards, writeTokenShards } from "@gemma-ts/data";
import { GEMMA_SPECIAL_TOKENS, trainBpe } from "@gemma-ts/tokenizer";
import { LocalTeacher, openTeacherStore, TeacherBatches, writeTeacherStore } from "../src/index.js";

const STEPS = Number(process.env.KD_BENCH_STEPS ?? 12);
const K = 64;
const shape = { batchSize: 8, sequenceLength: 128, seed: 0 };

function generatedTexts(count: number): string[] {
  const random = new Random(1);
  const syllables = Array.from({ length: 90 }, (_, i) => "bcdfghjklmnprstvwz"[i % 18]! + "aeiou"[i % 5]!);
  const lexicon = Array.from({ length: 6000 }, () => Array.from({ length: 1 + Math.floor(random.uniform() * 3) }, () => syllables[Math.floor(random.uniform() * syllables.length)]).join(""));
  return Array.from({ length: count }, () => Array.from({ length: 300 }, () => lexicon[Math.floor(random.uniform() ** 2 * lexicon.length)]).join(" "));
}

/** A language-modelling batch: each row's first T ids in, its last T as targets. */
function labels(batch: Batch): TrainBatch {
  const { batchSize: B, sequenceLength: T, ids } = batch;
  const inputs = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T);
  for (let r = 0; r < B; r++) {
    for (let t = 0; t < T; t++) {
      inputs[r * T + t] = BigInt(ids[r * (T + 1) + t]!);
      targets[r * T + t] = BigInt(ids[r * (T + 1) + t + 1]!);
    }
  }
  return { ids: new HostTensor("int64", [B, T], inputs), targets: new HostTensor("int64", [B, T], targets), mask: HostTensor.float32([B, T], batch.lossMask) };
}

/** Median tokens per second of `STEPS` steps (after one that compiles) on the prepared batches. */
async function stepRate(config: Gemma2Config, objective: Objective, batches: readonly TrainBatch[]): Promise<number> {
  const trainer = new Trainer({ config, backend: new OnnxBackend(), params: initParams(config, 0), objective });
  try {
    await trainer.step([batches[0]!], 1e-3);
    const seconds: number[] = [];
    for (let step = 1; step <= STEPS; step++) {
      const started = performance.now();
      await trainer.step([batches[step % batches.length]!], 1e-3);
      seconds.push((performance.now() - started) / 1000);
    }
    seconds.sort((a, b) => a - b);
    return (shape.batchSize * shape.sequenceLength) / seconds[seconds.length >> 1]!;
  } finally {
    await trainer.dispose();
  }
}

const root = await mkdtemp(join(tmpdir(), "gemma-ts-kd-bench-"));
try {
  const texts = generatedTexts(60);
  const tokenizer = (await trainBpe(texts, { vocabSize: 8000, specialTokens: GEMMA_SPECIAL_TOKENS })).toTokenizer();
  await writeTokenShards({ inputs: [{ name: "generated", documents: texts.map((text) => ({ text })) }], tokenizer, outDir: join(root, "shards") });
  const shards = await openTokenShards(join(root, "shards"), { tokenizer });
  // The vocabulary the BPE reached (the store checks the teacher's against the shards' tokenizer).
  const config = { ...presetConfig("gemma2-1m"), vocabSize: tokenizer.vocabSize };
  const teacherModel = new Gemma2Model(config, initParams(config, 1), new OnnxBackend());
  await writeTeacherStore({ teacher: new LocalTeacher(teacherModel, tokenizer), shards, outDir: join(root, "store"), mode: "top-k", k: K, temperature: 1, seed: 0 });
  const store = await openTeacherStore(join(root, "store"), { shards });
  const source = new BatchSource(shards, shape);
  const teacherBatches = new TeacherBatches(store, source);
  const batches = await Promise.all(Array.from({ length: 4 }, (_, i) => source.batchAt(i)));
  console.log(`student gemma2-1m, batches of ${shape.batchSize} x ${shape.sequenceLength} tokens, vocabulary ${config.vocabSize}; median of ${STEPS} steps`);

  const readStart = performance.now();
  const sparse = [];
  for (const batch of batches) sparse.push({ ...labels(batch), ...(await teacherBatches.at(batch)) });
  const readMs = (performance.now() - readStart) / batches.length;
  const dense = [];
  for (const batch of batches) {
    const rows = Array.from({ length: shape.batchSize }, (_, r) => Array.from(batch.ids.subarray(r * (shape.sequenceLength + 1), r * (shape.sequenceLength + 1) + shape.sequenceLength)));
    dense.push({ ...labels(batch), "teacher.logits": await teacherModel.forward(rows) });
  }
  await teacherModel.dispose();
  await store.close();
  await shards.close();

  const plain = await stepRate(config, languageModeling(), batches.map(labels));
  const topK = await stepRate(config, distillationWithLabels(K, 0.5), sparse);
  const full = await stepRate(config, denseDistillationWithLabels(config.vocabSize, 0.5), dense);
  const line = (name: string, rate: number) => console.log(`${name.padEnd(34)} ${Math.round(rate).toLocaleString("en-US").padStart(6)} tokens/s  (${(plain / rate).toFixed(2)}x the plain step's time; goal <= 1.3x)`);
  console.log(`${"plain step (next-token labels)".padEnd(34)} ${Math.round(plain).toLocaleString("en-US").padStart(6)} tokens/s`);
  line(`KD step, top-${K} store + labels`, topK);
  line("KD step, full distribution + labels", full);
  console.log(`reading a batch's top-${K} teacher inputs from the store: ${readMs.toFixed(1)} ms (overlapped with the previous step in training)`);
} finally {
  await rm(root, { recursive: true, force: true });
}
