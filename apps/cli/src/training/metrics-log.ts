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

/**
 * A JSON-lines log of step records opened for appending. Opening keeps the file's leading records
 * that `keep` accepts (given those kept so far) and cuts the rest, so a resumed run rewrites what
 * it logged past its checkpoint; reading stops at a line that is not a whole record (a torn write).
 */
export class RecordLog<R extends { step: number }> {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    /** Every record in the file, in order. */
    readonly records: R[],
  ) {}

  static async open<R extends { step: number }>(path: string, keep: (record: R, kept: readonly R[]) => boolean): Promise<RecordLog<R>> {
    const records = await readRecords(path, keep);
    await atomicWriteFile(path, records.map((record) => `${JSON.stringify(record)}\n`).join(""));
    return new RecordLog(path, await open(path, "a"), records);
  }

  async append(record: R): Promise<void> {
    this.records.push(record);
    await this.handle.write(`${JSON.stringify(record)}\n`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** A training run's metrics.jsonl. */
export type MetricsLog = RecordLog<MetricsRecord>;

export const MetricsLog = {
  /** Opens the log for appending after keeping the records of steps up to `keepThrough` (0: none). */
  open: (path: string, keepThrough: number): Promise<MetricsLog> => RecordLog.open<MetricsRecord>(path, (record) => record.step <= keepThrough),
};

async function readRecords<R extends { step: number }>(path: string, keep: (record: R, kept: readonly R[]) => boolean): Promise<R[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const records: R[] = [];
  for (const line of text.split("\n")) {
    let record: R;
    try {
      record = JSON.parse(line) as R;
    } catch {
      break;
    }
    if (typeof record !== "object" || record === null || !Number.isInteger(record.step) || !keep(record, records)) break;
    records.push(record);
  }
  return records;
}
