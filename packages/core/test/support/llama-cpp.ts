// llama.cpp as the reference for Gemma 2, through node-llama-cpp's prebuilt CPU binary: next-token
// log-probabilities at every position of a raw id sequence (no BOS added, no tokenizer involved).
// node-llama-cpp exposes probabilities, not logits: with a greedy sampler the "probabilities" it
// returns are the softmax of the untouched logits over the whole vocabulary, so log(p) is the log-softmax.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, LlamaLogLevel, type ControlledEvaluateInputItem, type Llama, type Token } from "node-llama-cpp";
import type { Gemma2Config, Gemma2Params } from "../../src/index.js";
import { writeGguf, type GgufDType } from "../../src/node.js";

export interface LlamaCppOptions {
  /** CPU threads for evaluation (default: node-llama-cpp's choice, the math cores). */
  threads?: number;
}

let llamaInstance: Promise<Llama> | undefined;

/** One Llama per test process: loading the binary takes most of a second. */
function llama(): Promise<Llama> {
  // build "never": use the prebuilt @node-llama-cpp/linux-x64 binary, never download or compile.
  llamaInstance ??= getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
  return llamaInstance;
}

/** Releases the native llama.cpp instance (call from afterAll). */
export async function disposeLlamaCpp(): Promise<void> {
  const instance = llamaInstance;
  llamaInstance = undefined;
  if (instance) await (await instance).dispose();
}

/**
 * llama.cpp's next-token log-probabilities after each prefix ids[0..i], one row of vocabSize per
 * position. Evaluated exactly as given: no BOS is prepended.
 */
export async function llamaCppLogProbs(ggufPath: string, ids: readonly number[], options: LlamaCppOptions = {}): Promise<Float32Array[]> {
  if (ids.length === 0) return [];
  const model = await (await llama()).loadModel({ modelPath: ggufPath, gpuLayers: 0, useMmap: false });
  try {
    const vocabSize = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
    const context = await model.createContext({
      sequences: 1,
      contextSize: ids.length + 1,
      batchSize: ids.length + 1, // one decode call for the whole sequence
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      // Closest to an exact reference: the plain softmax(QK^T) path with the softcap, an F32 cache,
      // and the full SWA cache so no key is dropped by ring-buffer reuse (the SWA mask still applies).
      flashAttention: false,
      swaFullCache: true,
      experimentalKvCacheKeyType: "F32",
      experimentalKvCacheValueType: "F32",
    });
    try {
      const sequence = context.getSequence();
      // temperature 0 selects the greedy sampler, which leaves the logits alone before the softmax.
      // The row of the last item of a controlledEvaluate call comes back altered (observed: every
      // earlier row matches gemma-ts to 2e-4, the last one is off by ~0.2), so one extra token is
      // evaluated and its row dropped; rows only depend on the ids up to their position.
      const padded = [...ids, ids[0]!];
      const input = padded.map((id): ControlledEvaluateInputItem => [id as Token, { generateNext: { probabilities: true, options: { temperature: 0 } } }]);
      const results = await sequence.controlledEvaluate(input);
      return ids.map((_, position) => {
        const probabilities = results[position]?.next.probabilities;
        if (!probabilities) throw new Error(`llama.cpp returned no probabilities at position ${position}`);
        const row = new Float32Array(vocabSize).fill(Number.NEGATIVE_INFINITY);
        for (const [token, probability] of probabilities) row[token] = Math.log(probability);
        return row;
      });
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/**
 * The one call for parity tests: exports `params` as an F32 GGUF in a temp folder and returns
 * llama.cpp's log-probabilities for `ids` (pass ids starting with <bos> for a realistic run).
 */
export async function llamaCppLogProbsForParams(config: Gemma2Config, params: Gemma2Params, ids: readonly number[], options: LlamaCppOptions & { dtype?: GgufDType } = {}): Promise<Float32Array[]> {
  const folder = await mkdtemp(join(tmpdir(), "gemma-ts-llama-cpp-"));
  try {
    const path = join(folder, "model.gguf");
    await writeGguf(path, config, params, { dtype: options.dtype ?? "f32" });
    return await llamaCppLogProbs(path, ids, options);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** Row-wise log-softmax of logits laid out [positions, vocabSize], to compare ours with llama.cpp's. */
export function logSoftmaxRows(logits: Float32Array, vocabSize: number): Float32Array[] {
  const rows: Float32Array[] = [];
  for (let start = 0; start < logits.length; start += vocabSize) {
    const row = logits.subarray(start, start + vocabSize);
    let max = Number.NEGATIVE_INFINITY;
    for (const value of row) max = Math.max(max, value);
    let sum = 0;
    for (const value of row) sum += Math.exp(value - max);
    const logSum = max + Math.log(sum);
    rows.push(Float32Array.from(row, (value) => value - logSum));
  }
  return rows;
}

/** The largest |a - b| over all rows, and where it is. */
export function maxLogProbDifference(a: readonly Float32Array[], b: readonly Float32Array[]): { max: number; position: number; token: number } {
  if (a.length !== b.length) throw new Error(`${a.length} rows against ${b.length}`);
  let worst = { max: 0, position: -1, token: -1 };
  a.forEach((row, position) => {
    const other = b[position]!;
    if (row.length !== other.length) throw new Error(`row ${position}: ${row.length} against ${other.length} entries`);
    for (let token = 0; token < row.length; token++) {
      const difference = Math.abs(row[token]! - other[token]!);
      if (!(difference <= worst.max)) worst = { max: difference, position, token }; // NaN counts as worst
    }
  });
  return worst;
}
