// What `distill store` shows while the teacher scores the corpus, on stdout: a progress bar
// (cli-progress) on a terminal; otherwise a line per chunk file written, so a log stays short.
import type { WriteTeacherStoreProgress } from "@gemma-ts/distill";
import { SingleBar } from "cli-progress";

export interface StoreProgress {
  update(progress: WriteTeacherStoreProgress): void;
  stop(): void;
  /** Tokens scored by this run (not those kept from an earlier one) and the seconds it took. */
  readonly scored: { tokens: number; seconds: number };
}

const count = (n: number) => n.toLocaleString("en-US");

export function storeProgress(): StoreProgress {
  const started = performance.now();
  let resumed: number | undefined;
  let positions = 0;
  let chunks = -1;
  const scored = () => ({ tokens: positions - (resumed ?? 0), seconds: (performance.now() - started) / 1000 });
  const speed = () => {
    const { tokens, seconds } = scored();
    return seconds > 0 ? count(Math.round(tokens / seconds)) : "-";
  };
  const bar = process.stdout.isTTY
    ? new SingleBar({ format: "scoring [{bar}] {value}/{total} tokens | {speed} tok/s | eta {eta_formatted}", stream: process.stdout, hideCursor: true, etaBuffer: 50 })
    : undefined;
  let running = false;
  return {
    update(progress) {
      if (resumed === undefined) {
        resumed = progress.resumedPositions;
        if (resumed > 0) process.stdout.write(`continuing an interrupted run: ${count(resumed)} of ${count(progress.totalPositions)} tokens (${progress.chunks} chunks) kept\n`);
        if (bar) {
          bar.start(progress.totalPositions, progress.positions, { speed: "-" });
          running = true;
        }
      }
      positions = progress.positions;
      if (bar) bar.update(positions, { speed: speed() });
      else if (progress.chunks > chunks && chunks >= 0) {
        process.stdout.write(`chunk ${progress.chunks}/${progress.totalChunks}: ${count(positions)}/${count(progress.totalPositions)} tokens, ${speed()} tok/s\n`);
      }
      chunks = progress.chunks;
    },
    stop() {
      if (running) bar?.stop();
      running = false;
    },
    get scored() {
      return scored();
    },
  };
}
