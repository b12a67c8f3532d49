// What train shows while it runs, on stdout: a progress bar (cli-progress) on a terminal, with
// notes (evaluations, checkpoints) printed above it; plain lines otherwise, a step's line every
// `logEvery` steps, so a log file or CI output stays readable.
import { MultiBar, type SingleBar } from "cli-progress";
import type { StepRecord } from "./metrics-log.js";

export interface TrainProgress {
  /** A line of its own (above the bar on a terminal). */
  note(line: string): void;
  step(record: StepRecord): void;
  stop(): void;
}

export function trainProgress(options: { total: number; start: number; logEvery: number }): TrainProgress {
  const { total, start, logEvery } = options;
  if (!process.stdout.isTTY) {
    return {
      note: (line) => process.stdout.write(`${line}\n`),
      step: (record) => {
        if (record.step % logEvery === 0 || record.step === total) process.stdout.write(`${stepLine(record, total)}\n`);
      },
      stop: () => {},
    };
  }
  const bars = new MultiBar({
    format: "training [{bar}] {value}/{total} steps | loss {loss} | {speed} tok/s | eta {eta_formatted}",
    stream: process.stdout,
    hideCursor: true,
    etaBuffer: 20,
  });
  let bar: SingleBar | undefined;
  const ensureBar = () => (bar ??= bars.create(total, start, { loss: "-", speed: "-" }));
  return {
    note: (line) => {
      ensureBar();
      bars.log(`${line}\n`);
      // The log is written on the next redraw; one now, so a note is not lost when the run ends.
      bars.update();
    },
    step: (record) => ensureBar().update(record.step, { loss: record.loss.toFixed(4), speed: Math.round(record.tokens_per_second).toLocaleString("en-US") }),
    stop: () => {
      if (bar) bars.stop();
      bar = undefined;
    },
  };
}

function stepLine(record: StepRecord, total: number): string {
  return [
    `step ${record.step}/${total}`,
    `loss ${record.loss.toFixed(4)}`,
    `lr ${record.lr.toExponential(2)}`,
    `grad_norm ${record.grad_norm.toPrecision(4)}`,
    `${Math.round(record.tokens_per_second).toLocaleString("en-US")} tok/s`,
  ].join("  ");
}
