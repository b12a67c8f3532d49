// Vitest global setup of the client tests: trains the briefly trained model (trained-model.ts) once
// per run into a temp folder the test files reach through inject("trainedModel"). It trains in the
// background, beside the server's tests (run first, vitest.config.ts); a client test file waits for
// it in startTestServer (trainedModelFolder). The folder is removed when the run ends.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { TRAINED_FAILED, TRAINED_READY, writeTrainedModel } from "./trained-model.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The folder the briefly trained model appears in (see trainedModelFolder). */
    trainedModel: string;
  }
}

export default function setup(project: TestProject): () => Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "gemma-ts-api-trained-"));
  project.provide("trainedModel", root);
  const staging = join(root, "staging");
  const training = writeTrainedModel(staging).then(
    (figures) => {
      // Renamed when whole, so a test never loads a half-written folder.
      renameSync(staging, join(root, TRAINED_READY));
      console.log(
        `trained test model: ${figures.steps} steps of ${figures.tokensPerStep} tokens in ${figures.trainingSeconds.toFixed(1)} s (${figures.totalSeconds.toFixed(1)} s in all), held-out loss ${figures.lossBefore.toFixed(2)} -> ${figures.lossAfter.toFixed(2)}`,
      );
    },
    (error: unknown) => writeFileSync(join(root, TRAINED_FAILED), error instanceof Error ? (error.stack ?? error.message) : String(error)),
  );
  return async () => {
    await training;
    rmSync(root, { recursive: true, force: true });
  };
}
