// The progress bar shown while a model folder loads (config, weights, tokenizer, engine), on
// stderr and only when stderr is a terminal, so piped stdout and CI logs stay clean. Stages, not
// bytes: loadHfCheckpoint reports no progress of its own, and the weights are most of the wait.
import { LOAD_STAGES, type LoadOptions, type LoadStage } from "@gemma-ts/serve/http";
import { SingleBar } from "cli-progress";

const STAGE_LABELS: Record<LoadStage, string> = {
  config: "reading config.json",
  weights: "reading weights",
  tokenizer: "reading tokenizer.json",
  engine: "starting the engine",
};

export interface LoadProgress {
  onProgress: LoadOptions["onProgress"];
  /** Removes the bar (after a failed load too, before the error is printed). */
  stop(): void;
}

export function loadProgress(folder: string): LoadProgress {
  if (!process.stderr.isTTY) return { onProgress: undefined, stop: () => {} };
  const bar = new SingleBar({ format: `loading ${folder} [{bar}] {percentage}% | {stage}`, stream: process.stderr, hideCursor: true, clearOnComplete: true });
  let running = false;
  const stop = () => {
    if (running) bar.stop();
    running = false;
  };
  return {
    stop,
    onProgress: (stage, detail) => {
      if (stage === "done") return stop();
      const label = stage === "weights" && detail.weightBytes > 0 ? `${STAGE_LABELS[stage]} (${(detail.weightBytes / 2 ** 20).toFixed(1)} MiB)` : STAGE_LABELS[stage];
      if (!running) bar.start(LOAD_STAGES.length, 0, { stage: label });
      running = true;
      bar.update(LOAD_STAGES.indexOf(stage), { stage: label });
    },
  };
}
