// pnpm bench (model): prefill and decode tokens/s of the ~25M preset against llama.cpp on the same
// weights (an f32 GGUF exported by gemma-ts), at 1 and 2 threads (training is training.bench.ts's,
// against PyTorch). One run measures both sides; medians of repeated runs after a warm-up. gemma-ts
// runs twice: with the weights bound once as graph inputs (the default) and baked in as constants
// (onnxruntime pre-packs them). Then decode speed at position 100 against the cache's capacity.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { Gemma2Model, initParams, KVCache, presetConfig, type HostTensor } from "../src/index.js";
import { OnnxBackend, writeGguf } from "../src/node.js";

const PROMPT = 128;
const DECODE = 32;
const REPEATS = 3;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function argmaxLast(logits: HostTensor<"float32">, vocabSize: number): number {
  const row = logits.data.subarray(logits.size - vocabSize);
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

async function gemmaTs(model: Gemma2Model, prompt: number[], capacity = PROMPT + DECODE): Promise<{ prefill: number; decode: number }> {
  const prefill: number[] = [];
  const decode: number[] = [];
  for (let repeat = 0; repeat <= REPEATS; repeat++) {
    const cache = new KVCache(model.config, { capacity });
    let started = performance.now();
    let next = argmaxLast(await model.forward([prompt], cache), model.config.vocabSize);
    const prefillSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    for (let i = 0; i < DECODE; i++) next = argmaxLast(await model.forward([[next]], cache), model.config.vocabSize);
    const decodeSeconds = (performance.now() - started) / 1000;
    if (repeat === 0) continue; // warm-up: compiles the graphs
    prefill.push(PROMPT / prefillSeconds);
    decode.push(DECODE / decodeSeconds);
  }
  return { prefill: median(prefill), decode: median(decode) };
}

async function llamaCpp(path: string, prompt: number[], threads: number): Promise<{ prefill: number; decode: number }> {
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const prefill: number[] = [];
  const decode: number[] = [];
  for (let repeat = 0; repeat <= REPEATS; repeat++) {
    const context = await model.createContext({ contextSize: PROMPT + DECODE + 8, batchSize: PROMPT, threads, flashAttention: false, swaFullCache: true, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
    const sequence = context.getSequence();
    let started = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as Token[]);
    const prefillSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    let generated = 0;
    for await (const _token of sequence.evaluate([prompt.at(-1)! as Token], { temperature: 0 })) {
      if (++generated >= DECODE) break;
    }
    const decodeSeconds = (performance.now() - started) / 1000;
    await context.dispose();
    if (repeat === 0) continue;
    prefill.push((PROMPT - 1) / prefillSeconds);
    decode.push(DECODE / decodeSeconds);
  }
  await model.dispose();
  await llama.dispose();
  return { prefill: median(prefill), decode: median(decode) };
}

async function inference(): Promise<void> {
  const config = presetConfig("gemma2-25m");
  const params = initParams(config, 1);
  const folder = await mkdtemp(join(tmpdir(), "gemma-ts-bench-"));
  const gguf = join(folder, "model.gguf");
  await writeGguf(gguf, config, params, { dtype: "f32" });
  const prompt = [2, ...Array.from({ length: PROMPT - 1 }, (_, i) => 4 + ((i * 7919) % (config.vocabSize - 4)))];
  console.log(`gemma2-25m (f32), prompt ${PROMPT} tokens, then ${DECODE} greedy tokens with the KV cache`);
  for (const threads of [1, 2]) {
    const run = async (weights: "inputs" | "constants") => {
      const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: threads }), { weights });
      const figures = await gemmaTs(model, prompt);
      await model.dispose();
      return figures;
    };
    const ours = await run("inputs");
    const prepacked = await run("constants");
    const theirs = await llamaCpp(gguf, prompt, threads);
    const line = (label: "prefill" | "decode") =>
      `  ${threads} thread${threads > 1 ? "s" : " "} ${label.padEnd(7)}: gemma-ts ${ours[label].toFixed(0).padStart(6)} tok/s ` +
      `(weights as constants ${prepacked[label].toFixed(0).padStart(6)}), llama.cpp ${theirs[label].toFixed(0).padStart(6)} tok/s, ` +
      `ratio ${(ours[label] / theirs[label]).toFixed(2)}x (constants ${(prepacked[label] / theirs[label]).toFixed(2)}x)`;
    console.log(line("prefill"));
    console.log(line("decode"));
  }
  await rm(folder, { recursive: true, force: true });

  // The graph reads only the cache slots in use, so a large capacity costs nothing per token.
  console.log(`\ngemma2-25m decode after a ${PROMPT}-token prompt (1 thread), by KV cache capacity`);
  const model = new Gemma2Model(config, params, new OnnxBackend({ intraOpThreads: 1 }));
  const small = (await gemmaTs(model, prompt, 512)).decode;
  const large = (await gemmaTs(model, prompt, 8192)).decode;
  await model.dispose();
  console.log(`  capacity 512: ${small.toFixed(0)} tok/s, capacity 8192: ${large.toFixed(0)} tok/s, ratio ${(large / small).toFixed(2)}x`);
}

await inference();
