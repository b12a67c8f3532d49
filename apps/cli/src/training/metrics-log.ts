// metrics.jsonl: one JSON object per line, appended as the run goes. A step's record has `step`
// (optimiser steps done, from 1), `loss`, `lr`, `grad_norm`, `tokens_per_second`, `epoch` and
// `seconds`; an evaluation's has `step`, `eval_loss`, `eval_perplexity` and `eval_tokens`. Numbers
// are written as JSON.stringify writes them, the shortest text that reads back to the same double,
// so a loss in the file is the loss computed, bit for bit.
//
// On resume the file is cut back to the records of the checkpoint's steps (a killed run may have
// logged steps past its last checkpoint, and a torn last line), so it keeps one record per step.
import { type FileHandle, open, readFile } from "node:fs/promises";
import { atomicWriteFile } from "@gemma-ts/core/node";

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_second: number;
  epoch: number;
  seconds: number;
}

export interface EvalRecord {
  step: number;
  eval_loss: number;
  eval_perplexity: number;
  eval_tokens: number;
}

export type MetricsRecord = StepRecord | EvalRecord;

export function isEvalRecord(record: MetricsRecord): record is EvalRecord {
  return "eval_loss" in record;
}

export class MetricsLog {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    /** Every record in the file, in order. */
    readonly records: MetricsRecord[],
  ) {}

  /** Opens the log for appending after keeping the records of steps up to `keepThrough` (0: none). */
  static async open(path: string, keepThrough: number): Promise<MetricsLog> {
    const records = keepThrough > 0 ? await readRecords(path, keepThrough) : [];
    await atomicWriteFile(path, records.map((record) => `${JSON.stringify(record)}\n`).join(""));
    return new MetricsLog(path, await open(path, "a"), records);
  }

  async append(record: MetricsRecord): Promise<void> {
    this.records.push(record);
    await this.handle.write(`${JSON.stringify(record)}\n`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** The leading records with step <= through; reading stops at a line that is not a whole record. */
async function readRecords(path: string, through: number): Promise<MetricsRecord[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const records: MetricsRecord[] = [];
  for (const line of text.split("\n")) {
    let record: MetricsRecord;
    try {
      record = JSON.parse(line) as MetricsRecord;
    } catch {
      break;
    }
    if (typeof record !== "object" || record === null || !Number.isInteger(record.step) || record.step > through) break;
    records.push(record);
  }
  return records;
}
