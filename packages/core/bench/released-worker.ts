// One side of the released-size benchmark (released.bench.ts), in its own process so its peak RSS
// is its own: `gemma DIR OUT [q8|q4]` loads a Hugging Face folder into gemma-ts (quantizing while
// reading), `llama GGUF OUT` loads a GGUF into llama.cpp, `convert DIR GGUF f32|q8_0|q4_0` writes
// the GGUF. Each measures load time, peak RSS,
// prefill and decode tokens/s at 1 and 2 threads, and the log-probabilities of a 16-token prompt
// (written next to OUT as raw float32 rows) for the parity check.
import { writeFile } from "node:fs/promises";
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { Gemma2Model, KVCache, type HostTensor, type QuantType } from "../src/index.js";
import { loadHfCheckpoint, OnnxBackend, writeGguf, type GgufDType } from "../src/node.js";
import { llamaCppLogProbs, logSoftmaxRows } from "../test/support/llama-cpp.js";

export const PARITY_IDS = [2, 651, 6037, 576, 573, 3520, 235265, 109, 4038, 3760, 1155, 573, 1963, 576, 2134, 235336];
const PROMPT = 32;
const DECODE = 8;
const THREADS = [1, 2];

export interface SideFigures {
  loadSeconds: number;
  peakRssBytes: number;
  /** tokens/s by thread count */
  prefill: Record<number, number>;
  decode: Record<number, number>;
}

const peakRss = () => process.resourceUsage().maxRSS * 1024;
const promptIds = (vocabSize: number) => [2, ...Array.from({ length: PROMPT - 1 }, (_, i) => 4 + ((i * 7919) % (vocabSize - 4)))];

function argmaxLast(logits: HostTensor<"float32">, vocabSize: number): number {
  const row = logits.data.subarray(logits.size - vocabSize);
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

async function gemma(dir: string, out: string, quantize: QuantType | undefined): Promise<void> {
  let started = performance.now();
  const { config, params, quantized } = await loadHfCheckpoint(dir, quantize ? { quantize } : {});
  const figures: SideFigures = { loadSeconds: 0, peakRssBytes: 0, prefill: {}, decode: {} };
  for (const threads of THREADS) {
    const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: threads }), quantized ? { quantized } : {});
    // The first call compiles the graph (onnxruntime pre-packs quantized weights then): part of loading.
    const logits = await model.forward([PARITY_IDS]);
    if (threads === 1) {
      figures.loadSeconds = (performance.now() - started) / 1000;
      // A user's process: one model loaded and run (later sessions here only time other thread counts).
      figures.peakRssBytes = peakRss();
      await writeRows(`${out}.logprobs`, logSoftmaxRows(logits.data, config.vocabSize));
    }
    const cache = new KVCache(config, { capacity: PROMPT + DECODE });
    started = performance.now();
    let next = argmaxLast(await model.forward([promptIds(config.vocabSize)], cache), config.vocabSize);
    figures.prefill[threads] = PROMPT / ((performance.now() - started) / 1000);
    started = performance.now();
    for (let i = 0; i < DECODE; i++) next = argmaxLast(await model.forward([[next]], cache), config.vocabSize);
    figures.decode[threads] = DECODE / ((performance.now() - started) / 1000);
    await model.dispose();
  }
  await writeFile(out, JSON.stringify(figures));
}

async function llama(gguf: string, out: string): Promise<void> {
  const instance = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
  let started = performance.now();
  const model = await instance.loadModel({ modelPath: gguf, gpuLayers: 0 });
  const figures: SideFigures = { loadSeconds: (performance.now() - started) / 1000, peakRssBytes: 0, prefill: {}, decode: {} };
  const prompt = promptIds(model.fileInfo.metadata.tokenizer.ggml.tokens.length) as Token[];
  for (const threads of THREADS) {
    const context = await model.createContext({ contextSize: PROMPT + DECODE + 8, batchSize: PROMPT, threads, flashAttention: false, swaFullCache: true, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
    const sequence = context.getSequence();
    started = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
    figures.prefill[threads] = (PROMPT - 1) / ((performance.now() - started) / 1000);
    started = performance.now();
    let generated = 0;
    for await (const _token of sequence.evaluate([prompt.at(-1)!], { temperature: 0 })) if (++generated >= DECODE) break;
    figures.decode[threads] = DECODE / ((performance.now() - started) / 1000);
    await context.dispose();
    if (threads === 1) figures.peakRssBytes = peakRss();
  }
  await model.dispose();
  await instance.dispose();
  await writeRows(`${out}.logprobs`, await llamaCppLogProbs(gguf, PARITY_IDS, { threads: 2 }));
  await writeFile(out, JSON.stringify(figures));
}

async function convert(dir: string, gguf: string, dtype: GgufDType): Promise<void> {
  const { config, params } = await loadHfCheckpoint(dir);
  await writeGguf(gguf, config, params, { dtype });
}

async function writeRows(file: string, rows: readonly Float32Array[]): Promise<void> {
  const joined = new Float32Array(rows.reduce((n, row) => n + row.length, 0));
  let offset = 0;
  for (const row of rows) {
    joined.set(row, offset);
    offset += row.length;
  }
  await writeFile(file, new Uint8Array(joined.buffer));
}

const [mode, source, target, variant] = process.argv.slice(2);
if (mode === "gemma") await gemma(source!, target!, variant as QuantType | undefined);
else if (mode === "llama") await llama(source!, target!);
else if (mode === "convert") await convert(source!, target!, (variant ?? "f32") as GgufDType);
else if (mode !== undefined) throw new Error(`unknown mode ${mode}`);
