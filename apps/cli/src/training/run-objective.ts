// What a run optimises and the batches that feed it. A plain run: next-token prediction on the
// data's labels. Distilled online (--teacher): the teacher model's whole distribution per batch,
// core's denseDistillationWithLabels. A distilled run (--teacher-store): core's distillationWithLabels objective,
// kdWeight x KD against the store's sparse teacher distributions + (1 - kdWeight) x next-token CE,
// each training batch joined with its teacher inputs (@gemma-ts/distill's TeacherBatches). The
// teacher inputs are read from the store by (document, position), so they too are a pure function
// of the step, and a resumed run computes the uninterrupted run's losses bit for bit.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { denseDistillationWithLabels, distillationWithLabels, HostTensor, languageModeling, type Objective, type TrainBatch } from "@gemma-ts/core";
import type { Batch, BatchSource, TokenShards } from "@gemma-ts/data";
import { openTeacherStore, STORE_INDEX_FILE, StoreMismatchError, TeacherBatches } from "@gemma-ts/distill";
import { InvalidArgumentError } from "commander";
import { distillErrorsAsUsage } from "../distill/distill-errors.js";
import { OnlineTeacher } from "./online-teacher.js";
import { defaultKdWeight, type RunSettings } from "./run-settings.js";
import { trainBatch } from "./token-data.js";

export interface RunObjective {
  objective: Objective;
  /** A training micro-batch's inputs. */
  training(batch: Batch): Promise<TrainBatch>;
  /**
   * An evaluation batch's inputs. Evaluations read the per-token log-probs the objective reports,
   * not its loss, so a distilled run's evaluation batches carry empty teacher inputs (the
   * evaluation data is not in the store): probability 0 on ids 0..k-1.
   */
  evaluation(batch: Batch): TrainBatch;
  /** Identifies the teacher store's contents (a sha256 of its index), if the run has one. */
  storeIndex: string | undefined;
  /** For the run's first line: what the student is distilled from, if it is. */
  description: string | undefined;
  /** The KD weight the objective uses (the default resolved), if the run distils. */
  kdWeight: number | null;
  close(): Promise<void>;
}

export async function runObjective(settings: RunSettings, shards: TokenShards, train: BatchSource, vocabSize: number, threads: number | null): Promise<RunObjective> {
  if (settings.teacher !== null) return onlineObjective(settings.teacher, settings.kdWeight ?? defaultKdWeight("full"), { fingerprint: shards.index.tokenizer.fingerprint, vocabSize }, threads);
  if (settings.teacherStore === null) {
    return { objective: languageModeling(), training: async (batch) => trainBatch(batch), evaluation: trainBatch, storeIndex: undefined, description: undefined, kdWeight: null, close: async () => {} };
  }
  const path = settings.teacherStore;
  const store = await distillErrorsAsUsage(async () => {
    try {
      return await openTeacherStore(path, { shards });
    } catch (error) {
      if (error instanceof StoreMismatchError) throw new InvalidArgumentError(await mismatch(path, shards));
      throw error;
    }
  });
  // The store was just checked against these shards, the source's: this cannot refuse them.
  const teacher = await distillErrorsAsUsage(async () => new TeacherBatches(store, train, settings.teacherTopK === null ? {} : { k: settings.teacherTopK })).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });
  const { k } = teacher;
  const { mode } = store.index;
  const kdWeight = settings.kdWeight ?? defaultKdWeight(mode);
  return {
    objective: distillationWithLabels(k, kdWeight),
    training: async (batch) => ({ ...trainBatch(batch), ...(await distillErrorsAsUsage(() => teacher.at(batch))) }),
    evaluation: (batch) => ({ ...trainBatch(batch), ...emptyTeacher(batch, k) }),
    storeIndex: `sha256:${createHash("sha256").update(JSON.stringify(store.index)).digest("hex")}`,
    description: `distilled from ${path} (${mode === "top-k" ? `top-${k}` : `${k} samples`}, KD weight ${kdWeight})`,
    kdWeight,
    close: () => store.close(),
  };
}

/** Online distillation: the teacher model's whole distribution, computed batch by batch. */
async function onlineObjective(dir: string, kdWeight: number, student: { fingerprint: string; vocabSize: number }, threads: number | null): Promise<RunObjective> {
  const teacher = await OnlineTeacher.open(dir, student, threads);
  return {
    objective: denseDistillationWithLabels(student.vocabSize, kdWeight),
    training: async (batch) => ({ ...trainBatch(batch), ...(await teacher.logits(batch)) }),
    evaluation: (batch) => ({ ...trainBatch(batch), ...OnlineTeacher.empty(batch, student.vocabSize) }),
    storeIndex: undefined,
    description: `distilled online from ${dir} (the whole distribution, KD weight ${kdWeight})`,
    kdWeight,
    close: () => teacher.close(),
  };
}

/** How the run's shards differ from the store's, as one line. */
async function mismatch(path: string, shards: TokenShards): Promise<string> {
  const written = await storeShards(path);
  const ours = { tokenizer: shards.index.tokenizer.fingerprint, documents: shards.documentCount, tokens: shards.tokenCount };
  const how =
    written === undefined
      ? "other token shards"
      : written.tokenizer !== ours.tokenizer
        ? "another tokenizer (train with the store's tokenizer.json, the teacher's)"
        : `other data (${written.documents.toLocaleString("en-US")} documents of ${written.tokens.toLocaleString("en-US")} tokens; this run's: ${ours.documents.toLocaleString("en-US")} of ${ours.tokens.toLocaleString("en-US")})`;
  return `--teacher-store ${path} was written for ${how}; distill store and train must read the same --data files with the same --text-unit and tokenizer`;
}

/** What the store's index says of its shards (openTeacherStore refused them, so read it plainly). */
async function storeShards(path: string): Promise<{ tokenizer: string; documents: number; tokens: number } | undefined> {
  try {
    const index = JSON.parse(await readFile(join(path, STORE_INDEX_FILE), "utf8")) as { shards?: { tokenizer?: unknown; documents?: unknown; tokens?: unknown } };
    const { tokenizer, documents, tokens } = index.shards ?? {};
    if (typeof tokenizer === "string" && typeof documents === "number" && typeof tokens === "number") return { tokenizer, documents, tokens };
  } catch {
    // a store the reader refused for this reason has a readable index; anything else: say less
  }
  return undefined;
}

function emptyTeacher(batch: Batch, k: number): TrainBatch {
  const { batchSize: B, sequenceLength: T } = batch;
  const ids = new BigInt64Array(B * T * k);
  for (let p = 0; p < B * T; p++) for (let j = 0; j < k; j++) ids[p * k + j] = BigInt(j);
  return { "teacher.ids": new HostTensor("int64", [B, T, k], ids), "teacher.probs": new HostTensor("float32", [B, T, k], new Float32Array(B * T * k)) };
}

