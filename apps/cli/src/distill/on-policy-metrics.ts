// metrics.jsonl of an on-policy run: one JSON line per step, the distill package's record (`step`
// 0-based, `loss`, `gradNorm`, `onPolicy`, `tokens`) and the step's `lr`. Numbers are written as
// JSON.stringify writes them, the shortest text that reads back to the same double, so a loss in
// the file is the loss computed, bit for bit.
//
// On resume the file is cut back to the steps before the checkpoint's (a killed run may have
// logged steps past its last checkpoint, and a torn last line), so it keeps one record per step.
// train's MetricsLog does the same for its records, whose steps count from 1.
import { type FileHandle, open, readFile } from "node:fs/promises";
import { atomicWriteFile } from "@gemma-ts/core/node";
import type { OnPolicyStepRecord } from "@gemma-ts/distill";

export interface OnPolicyMetricsRecord extends OnPolicyStepRecord {
  lr: number;
}

export class OnPolicyMetricsLog {
  private constructor(
    private readonly handle: FileHandle,
    /** Every record in the file, in order. */
    readonly records: OnPolicyMetricsRecord[],
  ) {}

  /** Opens the log for appending after keeping the records of the steps before `start`. */
  static async open(path: string, start: number): Promise<OnPolicyMetricsLog> {
    const records = start > 0 ? await readRecords(path, start) : [];
    await atomicWriteFile(path, records.map((record) => `${JSON.stringify(record)}\n`).join(""));
    return new OnPolicyMetricsLog(await open(path, "a"), records);
  }

  async append(record: OnPolicyMetricsRecord): Promise<void> {
    this.records.push(record);
    await this.handle.write(`${JSON.stringify(record)}\n`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** The leading records of steps before `start`; reading stops at a line that is not a whole record. */
async function readRecords(path: string, start: number): Promise<OnPolicyMetricsRecord[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const records: OnPolicyMetricsRecord[] = [];
  for (const line of text.split("\n")) {
    let record: OnPolicyMetricsRecord;
    try {
      record = JSON.parse(line) as OnPolicyMetricsRecord;
    } catch {
      break;
    }
    // A record out of sequence would leave a gap or a repeat: keep only the run of steps 0, 1, ...
    if (typeof record !== "object" || record === null || record.step !== records.length || record.step >= start) break;
    records.push(record);
  }
  return records;
}
