// A training progress bar on stderr (cli-progress); plain periodic lines when stderr is not a
// terminal (CI logs), so the log stays readable.
import { SingleBar } from "cli-progress";

export interface Progress {
  update(value: number, payload: { loss: string }): void;
  stop(): void;
}

export function progressBar(total: number): Progress {
  if (!process.stderr.isTTY) {
    const every = Math.max(1, Math.floor(total / 10));
    return {
      update: (value, payload) => {
        if (value % every === 0 || value === total) process.stderr.write(`step ${value}/${total} loss ${payload.loss}\n`);
      },
      stop: () => {},
    };
  }
  const bar = new SingleBar({ format: "training    [{bar}] {value}/{total} steps | loss {loss} | eta {eta_formatted}", stream: process.stderr, hideCursor: true });
  bar.start(total, 0, { loss: "-" });
  return { update: (value, payload) => bar.update(value, payload), stop: () => bar.stop() };
}
