// pnpm bench (quantization cost): the 1M preset trained briefly on the State of the Union corpus,
// then held-out perplexity in float32, q8 and q4 on gemma-ts and in F32, Q8_0 and Q4_0 on llama.cpp
// (GGUFs written by gemma-ts from the same weights), over the same token windows.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Gemma2Model, presetConfig, type QuantType } from "../src/index.js";
import { OnnxBackend, writeGguf, type GgufDType } from "../src/node.js";
import { disposeLlamaCpp, llamaCppLogProbs, logSoftmaxRows } from "../test/support/llama-cpp.js";
import { sotuTokens } from "../test/support/sotu-tokens.js";
import { trainedParams } from "../test/support/trained-model.js";

const STEPS = 600;
const WINDOWS = 16;
const WINDOW = 128;

const config = presetConfig("gemma2-1m");
const tokens = await sotuTokens(config.vocabSize);
const params = await trainedParams(config, tokens.train, { steps: STEPS, seed: 5 });

const windows = Array.from({ length: WINDOWS }, (_, i) => [2, ...tokens.heldOut.slice(i * 2000, i * 2000 + WINDOW - 1)]);

/** exp(mean negative log-likelihood of each next token) over the windows. */
function perplexity(rowsOf: (window: number[]) => Float32Array[]): number {
  let total = 0;
  let count = 0;
  for (const window of windows) {
    const rows = rowsOf(window);
    for (let t = 0; t + 1 < window.length; t++) {
      total -= rows[t]![window[t + 1]!]!;
      count++;
    }
  }
  return Math.exp(total / count);
}

const ours: Record<string, number> = {};
for (const quantize of [undefined, "q8", "q4"] as (QuantType | undefined)[]) {
  const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 2 }), quantize ? { quantize } : {});
  const rows = new Map<number[], Float32Array[]>();
  for (const window of windows) rows.set(window, logSoftmaxRows((await model.forward([window])).data, config.vocabSize));
  ours[quantize ?? "f32"] = perplexity((window) => rows.get(window)!);
  await model.dispose();
}

const folder = await mkdtemp(join(tmpdir(), "gemma-ts-quant-bench-"));
const theirs: Record<string, number> = {};
for (const [label, dtype] of [["f32", "f32"], ["q8", "q8_0"], ["q4", "q4_0"]] as const) {
  const path = join(folder, `${dtype}.gguf`);
  await writeGguf(path, config, params, { dtype: dtype as GgufDType });
  const rows = new Map<number[], Float32Array[]>();
  for (const window of windows) rows.set(window, await llamaCppLogProbs(path, window, { threads: 2 }));
  theirs[label] = perplexity((window) => rows.get(window)!);
}
await disposeLlamaCpp();
await rm(folder, { recursive: true, force: true });

console.log(`\ngemma2-1m after ${STEPS} steps on sotu: held-out perplexity over ${WINDOWS} windows of ${WINDOW} tokens`);
for (const label of ["f32", "q8", "q4"]) {
  const a = ours[label]!;
  const b = theirs[label]!;
  const cost = (value: number, base: number) => `${(((value - base) / base) * 100).toFixed(2)}%`;
  console.log(
    `  ${label.padEnd(3)}: gemma-ts ${a.toFixed(3)} (${cost(a, ours.f32!)} vs f32), llama.cpp ${label === "f32" ? "F32 " : label === "q8" ? "Q8_0" : "Q4_0"} ${b.toFixed(3)} (${cost(b, theirs.f32!)} vs F32), ratio ${(a / b).toFixed(4)}`,
  );
}
