// <out>/run.json, the file a resumable run (train, distill on-policy) keeps its settings in: a
// format name and version, the settings (which decide the losses) and the options of the attempt.
// A flag given again on --resume must agree with the saved setting; one left out takes it.
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile } from "@gemma-ts/core/node";
import { InvalidArgumentError } from "commander";

export const RUN_FILE = "run.json";

export interface RunFormat {
  format: string;
  version: number;
  /** Completes "<file> is not ..." when the file is another kind: what it should have been. */
  describe: string;
}

/** The parts of `dir`'s run file, if it has one; refused in one line unless it is of `kind`. */
export async function readRunRecord(dir: string, kind: RunFormat): Promise<{ file: string; record: Record<string, unknown>; settings: Record<string, unknown>; options: Record<string, unknown> } | undefined> {
  const file = join(dir, RUN_FILE);
  try {
    await access(file);
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new InvalidArgumentError(`${file} is not valid JSON (${(error as Error).message})`);
  }
  const record = json as Record<string, unknown> | null;
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;
  if (record?.format !== kind.format || record.version !== kind.version || !isObject(record.settings) || !isObject(record.options)) {
    throw new InvalidArgumentError(`${file} is not ${kind.describe}`);
  }
  return { file, record, settings: record.settings, options: record.options };
}

export async function writeRunRecord(dir: string, kind: RunFormat, run: object): Promise<void> {
  await atomicWriteFile(join(dir, RUN_FILE), `${JSON.stringify({ format: kind.format, version: kind.version, ...run }, null, 2)}\n`);
}

/** The saved settings of a resumed run, after checking that every flag given again agrees. */
export function resumedSettings<S extends object>(saved: S, given: Partial<S>, flags: Readonly<Record<keyof S, string>>, file: string): S {
  for (const [name, value] of Object.entries(given) as [keyof S, unknown][]) {
    if (value === undefined || JSON.stringify(value) === JSON.stringify(saved[name])) continue;
    throw new InvalidArgumentError(`${flags[name]} ${show(value)} differs from the run's ${show(saved[name])} (${file}); a resumed run keeps the settings it began with`);
  }
  return saved;
}

function show(value: unknown): string {
  if (value === null) return "(not set)";
  return Array.isArray(value) ? value.join(" ") : String(value);
}
