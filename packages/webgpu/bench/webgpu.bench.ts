// pnpm bench: the WebGPU backend against onnxruntime (core's OnnxBackend, on the CPU) on the same
// graphs in the same run: matmul GFLOP/s, Gemma 2 prefill and cached decode tokens/s, and training
// tokens/s (forward, next-token cross-entropy, backward, clipping, AdamW). Each figure is a median
// of timed repeats after a warm-up, the two sides interleaved so that load on the machine hits both
// alike; the ratio is WebGPU's figure over onnxruntime's (above 1: WebGPU is faster).
//
// On a machine without a GPU, Dawn runs on SwiftShader, a CPU Vulkan driver (Debian's chromium
// ships it): VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json pnpm bench, which the bench
// also falls back to by itself when no driver gives an adapter and VK_ICD_FILENAMES is unset.
// It is correct but slow (~0.1 GFLOP/s on two cores), so on such a CPU adapter the defaults are
// small sizes and few repeats: a run of under two minutes that shows the bench works, not what a
// GPU does. On a GPU adapter the defaults are larger (bench/gpu-machine.sh runs them on a GPU).
//
// \`pnpm run bundle:gpu-bench\` writes it as one file, dist-gpu/gpu-bench.mjs, that runs with Node
// and the \`webgpu\` package beside it (no onnxruntime there: WebGPU's figures alone).
//
// Environment (all optional):
//   BENCH_MATMUL_SIZES   square matmul sizes, e.g. 1024,2048,4096 (default: 128,256,512 on a CPU
//                        adapter, 1024,2048,4096 on a GPU)
//   BENCH_PRESETS        inference presets, e.g. gemma2-25m (default gemma2-tiny)
//   BENCH_TRAIN_PRESETS  training presets, e.g. gemma2-7m,gemma2-25m (default gemma2-tiny)
//   BENCH_MODEL_DIR      a model folder in the released (Hugging Face) layout: inference on it too
//   GPU_PEAK_TFLOPS      the GPU's float32 peak in TFLOP/s, for the fraction of peak (default: the
//                        datasheet figure of a few known devices, matched on the adapter's name)
//   BENCH_ORT_THREADS    onnxruntime's intra-op threads (default: its own choice, the physical cores)
//   BENCH_REQUIRE_GPU=1  fail instead of running on a CPU adapter (SwiftShader's, which is otherwise
//                        the fallback when no driver gives an adapter and VK_ICD_FILENAMES is unset)
import { existsSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { basename } from "node:path";
import {
  type Backend,
  type BackendTensor,
  type Gemma2Config,
  type Gemma2Params,
  Gemma2Model,
  GraphBuilder,
  HostTensor,
  initParams,
  KVCache,
  languageModelBatch,
  languageModeling,
  presetConfig,
  Random,
  Trainer,
} from "@gemma-ts/core";
import { WebGpuBackend, WebGpuUnavailableError } from "../src/index.js";
import { nodeGpu } from "../src/node.js";

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** A comma-separated list from the environment, or the default. */
function listFromEnv(name: string, fallback: readonly string[]): string[] {
  const value = process.env[name]?.trim();
  return value ? value.split(",").map((item) => item.trim()).filter((item) => item.length > 0) : [...fallback];
}

function numberFromEnv(name: string): number | undefined {
  const value = process.env[name]?.trim();
  if (!value) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`${name}=${value}: expected a positive number`);
  return parsed;
}

/** Prints rows as a table (the first `left` columns left-aligned, the others right-aligned), then the notes. */
function printTable(rows: readonly (readonly string[])[], left = 1, notes: readonly string[] = []): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  for (const row of rows) console.log(`  ${row.map((cell, i) => (i < left ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")}`.trimEnd());
  for (const note of notes) console.log(`  ${note}`);
}

/**
 * A pause before each side's timed work: onnxruntime's threads spin for a while after a run, and on
 * a CPU adapter they would take the cores SwiftShader's threads need (prefill measured 3-4x slower).
 */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 50));

/** A failed case's message (Dawn's run over several lines), and the run's exit status set to 1. */
function errorText(error: unknown): string {
  process.exitCode = 1;
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split("\n").slice(0, 6).join("\n    ");
}
/** Two decimals, or two significant digits below 0.1 (SwiftShader's ratios are ~0.001). */
const figure = (value: number) => (value >= 0.1 ? value.toFixed(2) : value.toPrecision(2));
const ratio = (ours: number, theirs: number) => `${figure(ours / theirs)}x`;
const percent = (fraction: number) => `${figure(100 * fraction)}%`;

// Datasheet float32 (non-tensor-core) peaks in TFLOP/s, matched on the adapter's device name or
// description; the first match wins, so the specific variants come first.
const KNOWN_PEAKS: readonly (readonly [RegExp, number])[] = [
  [/H200 NVL/i, 60],
  [/H200/i, 67],
  [/H100 PCIe/i, 51],
  [/H100 NVL/i, 60],
  [/H100/i, 67],
  [/A100/i, 19.5],
  [/\bL4\b/i, 30.3],
  [/\bT4\b/i, 8.1],
];

// ---------------------------------------------------------------------------------------------
// The backends and what they run on.

const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";
const requireGpu = process.env.BENCH_REQUIRE_GPU === "1";

/**
 * The machine's adapter; without one (no GPU driver), SwiftShader's when it is installed and
 * VK_ICD_FILENAMES is unset, as the tests do, so that `pnpm bench` runs on any machine.
 */
async function createBackend(): Promise<WebGpuBackend> {
  try {
    return await WebGpuBackend.create({ gpu: nodeGpu() });
  } catch (error) {
    if (!(error instanceof WebGpuUnavailableError) || requireGpu || process.env.VK_ICD_FILENAMES !== undefined || !existsSync(SWIFTSHADER_ICD)) throw error;
    console.log(`${error.message}; falling back to SwiftShader's CPU Vulkan driver (${SWIFTSHADER_ICD})`);
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // read by the Vulkan loader when Dawn makes its next instance
    return WebGpuBackend.create({ gpu: nodeGpu(["adapter=SwiftShader"]) });
  }
}

const gpu = await createBackend();
const info = gpu.adapterInfo;
const adapterText = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
const cpuAdapter = info.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|softpipe/i.test(adapterText);
if (cpuAdapter && requireGpu) {
  gpu.destroy();
  throw new Error(`BENCH_REQUIRE_GPU=1, but Dawn's adapter is a CPU one (${adapterText.trim()})`);
}
const ortThreads = numberFromEnv("BENCH_ORT_THREADS");
// onnxruntime (and file loading) where they can be loaded: the one-file bundle for a machine
// without node_modules (bench/tsup.gpu.config.ts) has neither, and prints WebGPU's figures alone.
const coreNode = await import("@gemma-ts/core/node").catch((error: unknown) => {
  console.log(`onnxruntime is not available here (${error instanceof Error ? error.message : String(error)}): WebGPU's figures only`);
  return undefined;
});
const ort = coreNode && new coreNode.OnnxBackend(ortThreads === undefined ? {} : { intraOpThreads: ortThreads });

const envPeak = numberFromEnv("GPU_PEAK_TFLOPS");
const knownPeak = KNOWN_PEAKS.find(([pattern]) => pattern.test(`${info.device} ${info.description}`));
const peak = envPeak !== undefined ? { tflops: envPeak, source: "GPU_PEAK_TFLOPS" } : knownPeak ? { tflops: knownPeak[1], source: `datasheet figure for ${knownPeak[0].source}` } : undefined;

const limits = gpu.device.limits;
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
console.log(`WebGPU adapter (Dawn): vendor "${info.vendor}", architecture "${info.architecture}", device "${info.device}", description "${info.description}"`);
console.log(`  ${cpuAdapter ? "a CPU adapter (software Vulkan): small sizes, few repeats; figures show the bench works, not GPU speed" : "a GPU adapter"}`);
console.log(
  `  device limits: maxStorageBufferBindingSize ${gib(limits.maxStorageBufferBindingSize)}, maxBufferSize ${gib(limits.maxBufferSize)}, ` +
    `maxComputeInvocationsPerWorkgroup ${limits.maxComputeInvocationsPerWorkgroup}, maxComputeWorkgroupStorageSize ${limits.maxComputeWorkgroupStorageSize} B`,
);
console.log(`  float32 peak: ${peak ? `${peak.tflops} TFLOP/s (${peak.source})` : "unknown (set GPU_PEAK_TFLOPS for the fraction of peak)"}`);
if (ort) console.log(`onnxruntime (the reference): CPU, ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${availableParallelism()} logical cores, intra-op threads ${ortThreads ?? "onnxruntime's default"}`);

// Sizes: what a CPU adapter finishes in about two minutes, or what shows a GPU's speed.
const MATMUL_SIZES = listFromEnv("BENCH_MATMUL_SIZES", cpuAdapter ? ["128", "256", "512"] : ["1024", "2048", "4096"]).map(Number);
const MATMUL_SAMPLES = cpuAdapter ? 3 : 10;
/** A timed matmul sample runs the graph this long (repeats chosen from a calibration run), so launch latency and the final read are amortised. */
const MATMUL_SAMPLE_SECONDS = cpuAdapter ? 0 : 0.2;
const PROMPT = cpuAdapter ? 16 : 128;
const DECODE = cpuAdapter ? 8 : 32;
const INFERENCE_REPEATS = cpuAdapter ? 2 : 5;
const TRAIN_BATCH = cpuAdapter ? 2 : 8;
const TRAIN_SEQUENCE = cpuAdapter ? 16 : 128;
const TRAIN_WARMUP = cpuAdapter ? 1 : 2;
const TRAIN_STEPS = cpuAdapter ? 3 : 8;
const LR = 1e-4;

// ---------------------------------------------------------------------------------------------
// Matmul: one [n, n] x [n, n] product, operands resident on each backend.

function randomMatrix(random: Random, n: number): HostTensor<"float32"> {
  const data = new Float32Array(n * n);
  for (let i = 0; i < data.length; i++) data[i] = random.normal();
  return new HostTensor("float32", [n, n], data);
}

interface Timed {
  /** Runs the graph `repeat` times and waits for the last result; returns seconds per run. */
  sample(repeat: number): Promise<number>;
  dispose(): Promise<void>;
}

/** WebGPU: runResident keeps the product on the GPU; reading one element of the last waits for the queue (and is checked). */
async function gpuMatmul(n: number, a: HostTensor<"float32">, b: HostTensor<"float32">): Promise<Timed> {
  let expected = 0;
  let scale = 0;
  for (let k = 0; k < n; k++) {
    expected += a.data[k]! * b.data[k * n]!;
    scale += Math.abs(a.data[k]! * b.data[k * n]!);
  }
  const g = new GraphBuilder();
  const graph = g.build({ y: g.input("a", "float32", [n, n]).matmul(g.input("b", "float32", [n, n])) });
  const executable = await gpu.compile(graph);
  const inputs = { a: gpu.upload(a), b: gpu.upload(b) };
  return {
    async sample(repeat) {
      const started = performance.now();
      let last: BackendTensor | undefined;
      for (let i = 0; i < repeat; i++) {
        const { y } = await executable.runResident(inputs);
        if (last) gpu.free(last);
        last = y!;
      }
      const corner = gpu.view(last!, 0, [1]);
      const value = (await gpu.read(corner)).data[0] as number;
      gpu.free(corner);
      gpu.free(last!);
      if (!(Math.abs(value - expected) <= 1e-3 * scale)) throw new Error(`the WebGPU product's [0, 0] is ${value}, expected ${expected}`);
      return (performance.now() - started) / 1000 / repeat;
    },
    async dispose() {
      await executable.dispose();
      gpu.free(inputs.a);
      gpu.free(inputs.b);
    },
  };
}

/** onnxruntime: the same graph, operands uploaded (wrapped without a copy), the product read back. */
async function ortMatmul(ort: Backend, n: number, a: HostTensor, b: HostTensor): Promise<Timed> {
  const g = new GraphBuilder();
  const graph = g.build({ y: g.input("a", "float32", [n, n]).matmul(g.input("b", "float32", [n, n])) });
  const executable = await ort.compile(graph);
  const inputs = { a: ort.upload(a), b: ort.upload(b) };
  return {
    async sample(repeat) {
      const started = performance.now();
      for (let i = 0; i < repeat; i++) await executable.run(inputs);
      return (performance.now() - started) / 1000 / repeat;
    },
    dispose: () => executable.dispose(),
  };
}

/** Runs per sample so that a sample lasts about MATMUL_SAMPLE_SECONDS (1 on a CPU adapter). */
async function calibrate(side: Timed): Promise<number> {
  await side.sample(1); // warm-up: compiles the pipeline or session
  await settle();
  const once = await side.sample(1);
  return Math.max(1, Math.min(1000, Math.round(MATMUL_SAMPLE_SECONDS / once)));
}

async function matmulBench(): Promise<void> {
  console.log(`\nmatmul [n, n] x [n, n] float32, operands resident; median of ${MATMUL_SAMPLES} samples (GFLOP/s = 2 n^3 / time)`);
  const header = ["n", "WebGPU GFLOP/s", "onnxruntime GFLOP/s", "ratio", "WebGPU ms/run", "onnxruntime ms/run", "runs/sample"];
  if (peak) header.push("of f32 peak");
  const rows = [header];
  const notes: string[] = [];
  for (const n of MATMUL_SIZES) {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`BENCH_MATMUL_SIZES: ${n} is not a positive integer`);
    try {
      const random = new Random(n);
      const [a, b] = [randomMatrix(random, n), randomMatrix(random, n)];
      const sides = [await gpuMatmul(n, a, b), ...(ort ? [await ortMatmul(ort, n, a, b)] : [])];
      try {
        const repeats: number[] = [];
        for (const side of sides) repeats.push(await calibrate(side));
        const times: number[][] = sides.map(() => []);
        for (let i = 0; i < MATMUL_SAMPLES; i++) {
          for (const [s, side] of sides.entries()) {
            await settle();
            times[s]!.push(await side.sample(repeats[s]!));
          }
        }
        const [ours, theirs] = [median(times[0]!), times[1] && median(times[1])];
        const gflops = (seconds: number) => (2 * n ** 3) / seconds / 1e9;
        const row = [
          String(n),
          gflops(ours).toFixed(2),
          theirs ? gflops(theirs).toFixed(2) : "-",
          theirs ? ratio(theirs, ours) : "-",
          (ours * 1000).toFixed(2),
          theirs ? (theirs * 1000).toFixed(2) : "-",
          repeats.join(" / "),
        ];
        if (peak) row.push(percent(gflops(ours) / (peak.tflops * 1000)));
        rows.push(row);
      } finally {
        for (const side of sides) await side.dispose();
      }
    } catch (error) {
      rows.push([String(n), "failed"]);
      notes.push(`n = ${n}: ${errorText(error)}`);
    }
  }
  printTable(rows, 1, notes);
}

// ---------------------------------------------------------------------------------------------
// Gemma 2 inference: prefill of a PROMPT-token prompt, then DECODE greedy tokens with the KV cache.

function argmaxLast(logits: HostTensor<"float32">, vocabSize: number): number {
  const row = logits.data.subarray(logits.size - vocabSize);
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

interface InferenceRound {
  prefill: number;
  decode: number;
  tokens: number[];
}

async function inferenceRound(model: Gemma2Model, prompt: readonly number[]): Promise<InferenceRound> {
  const { config } = model;
  const cache = new KVCache(config, { capacity: prompt.length + DECODE });
  let started = performance.now();
  let next = argmaxLast(await model.forward([prompt], cache), config.vocabSize);
  const prefillSeconds = (performance.now() - started) / 1000;
  const tokens = [next];
  started = performance.now();
  for (let i = 0; i < DECODE; i++) {
    next = argmaxLast(await model.forward([[next]], cache), config.vocabSize);
    tokens.push(next);
  }
  const decodeSeconds = (performance.now() - started) / 1000;
  return { prefill: prompt.length / prefillSeconds, decode: DECODE / decodeSeconds, tokens };
}

interface InferenceCase {
  label: string;
  load: () => Promise<{ config: Gemma2Config; params: Gemma2Params }>;
}

async function inferenceBench(cases: readonly InferenceCase[]): Promise<void> {
  console.log(`\nGemma 2 inference, batch 1, weights bound as graph inputs: prefill of ${PROMPT} tokens, then ${DECODE} greedy tokens with the KV cache; median of ${INFERENCE_REPEATS} rounds after a warm-up`);
  const rows = [["model", "phase", "WebGPU tok/s", "onnxruntime tok/s", "ratio", "same greedy tokens"]];
  const notes: string[] = [];
  for (const { label, load } of cases) {
    const models: Gemma2Model[] = [];
    try {
      const { config, params } = await load();
      // Ids past the special tokens (the padding row of the embedding is zero).
      const prompt = Array.from({ length: PROMPT }, (_, i) => 4 + ((i * 7919) % (config.vocabSize - 4)));
      for (const backend of [gpu, ...(ort ? [ort] : [])] as Backend[]) models.push(new Gemma2Model(config, params, backend, { weights: "inputs" }));
      const rounds: InferenceRound[][] = models.map(() => []);
      for (let repeat = 0; repeat <= INFERENCE_REPEATS; repeat++) {
        for (const [side, model] of models.entries()) {
          await settle();
          const round = await inferenceRound(model, prompt);
          if (repeat > 0) rounds[side]!.push(round); // round 0 compiles the graphs
        }
      }
      const [ours, theirs] = rounds as [InferenceRound[], InferenceRound[] | undefined];
      const same = theirs && ours[0]!.tokens.filter((token, i) => token === theirs[0]!.tokens[i]).length;
      for (const phase of ["prefill", "decode"] as const) {
        const a = median(ours.map((r) => r[phase]));
        const b = theirs && median(theirs.map((r) => r[phase]));
        rows.push([label, phase, a.toFixed(1), b ? b.toFixed(1) : "-", b ? ratio(a, b) : "-", phase === "decode" && same !== undefined ? `${same}/${DECODE + 1}` : ""]);
      }
    } catch (error) {
      rows.push([label, "", "failed"]);
      notes.push(`${label}: ${errorText(error)}`);
    } finally {
      for (const model of models) await model.dispose();
    }
  }
  printTable(rows, 2, notes);
}

// ---------------------------------------------------------------------------------------------
// Training: Trainer steps of next-token prediction, one micro-batch of TRAIN_BATCH x TRAIN_SEQUENCE.

/** Model FLOPs of one trained token at sequence length T: 6 N + 12 L T (H h), as in core's training bench. */
function flopsPerToken(config: Gemma2Config, T: number): number {
  const d = config.hiddenSize;
  const q = config.numAttentionHeads * config.headDim;
  const kv = config.numKeyValueHeads * config.headDim;
  const perLayer = 2 * q * d + 2 * kv * d + 3 * config.intermediateSize * d;
  return 6 * (config.numHiddenLayers * perLayer + config.vocabSize * d) + 12 * config.numHiddenLayers * T * q;
}

async function trainingBench(presets: readonly string[]): Promise<void> {
  const tokens = TRAIN_BATCH * TRAIN_SEQUENCE;
  console.log(
    `\nGemma 2 training step (forward, next-token cross-entropy, backward, clip to norm 1, AdamW), batch ${TRAIN_BATCH} x ${TRAIN_SEQUENCE} = ${tokens} tokens; ` +
      `median of ${TRAIN_STEPS} steps after ${TRAIN_WARMUP} warm-up`,
  );
  const header = ["preset", "WebGPU tok/s", "onnxruntime tok/s", "ratio", "WebGPU ms/step", "onnxruntime ms/step", "step-1 loss WebGPU / onnxruntime"];
  if (peak) header.push("WebGPU MFU");
  const rows = [header];
  const notes: string[] = [];
  for (const preset of presets) {
    const trainers: Trainer[] = [];
    try {
      const config = presetConfig(preset);
      const params = initParams(config, 1);
      const rowsOfIds = Array.from({ length: TRAIN_BATCH }, (_, row) => Array.from({ length: TRAIN_SEQUENCE + 1 }, (_, t) => 4 + ((row * 131 + t * 17) % (config.vocabSize - 4))));
      const batch = languageModelBatch(rowsOfIds);
      for (const backend of [gpu, ...(ort ? [ort] : [])] as Backend[]) trainers.push(new Trainer({ config, backend, params, objective: languageModeling(), optimizer: { maxGradNorm: 1 } }));
      const losses: number[][] = trainers.map(() => []);
      const seconds: number[][] = trainers.map(() => []);
      for (let step = 0; step < TRAIN_WARMUP + TRAIN_STEPS; step++) {
        for (const [side, trainer] of trainers.entries()) {
          await settle();
          const started = performance.now();
          losses[side]!.push((await trainer.step([batch], LR)).loss);
          if (step >= TRAIN_WARMUP) seconds[side]!.push((performance.now() - started) / 1000);
        }
      }
      const [ours, theirs] = [median(seconds[0]!), seconds[1] && median(seconds[1])];
      const row = [
        preset,
        (tokens / ours).toFixed(1),
        theirs ? (tokens / theirs).toFixed(1) : "-",
        theirs ? ratio(theirs, ours) : "-",
        (ours * 1000).toFixed(0),
        theirs ? (theirs * 1000).toFixed(0) : "-",
        losses.map((list) => list[0]!.toFixed(5)).join(" / "),
      ];
      if (peak) row.push(percent((flopsPerToken(config, TRAIN_SEQUENCE) * tokens) / ours / (peak.tflops * 1e12)));
      rows.push(row);
    } catch (error) {
      rows.push([preset, "failed"]);
      notes.push(`${preset}: ${errorText(error)}`);
    } finally {
      for (const trainer of trainers) await trainer.dispose();
    }
  }
  printTable(rows, 1, notes);
}

// ---------------------------------------------------------------------------------------------

const started = performance.now();
try {
  await matmulBench();
  const cases: InferenceCase[] = listFromEnv("BENCH_PRESETS", ["gemma2-tiny"]).map((preset) => ({
    label: preset,
    load: async () => {
      const config = presetConfig(preset);
      return { config, params: initParams(config, 1) };
    },
  }));
  const modelDir = process.env.BENCH_MODEL_DIR?.trim();
  if (modelDir && !coreNode) console.log("BENCH_MODEL_DIR needs @gemma-ts/core/node's file loading, which this build lacks: skipped");
  if (modelDir && coreNode) cases.push({ label: basename(modelDir), load: () => coreNode.loadHfCheckpoint(modelDir) });
  await inferenceBench(cases);
  await trainingBench(listFromEnv("BENCH_TRAIN_PRESETS", ["gemma2-tiny"]));
} finally {
  gpu.destroy();
  await ort?.dispose();
}
console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(0)} s${process.exitCode ? "; some cases failed (see above)" : ""}`);
