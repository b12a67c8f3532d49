// pnpm bench (training): one training step of gemma2-7m at batch 8 x 128 (forward, mean next-token
// cross-entropy, backward, gradient clipping at norm 1, AdamW), gemma-ts against the same model in
// PyTorch (gemma2_torch.py: same weights, same batch, float32), at 1 and 2 threads, with the model
// FLOP utilisation (MFU) of each. Both run in this process's run: PyTorch in a child process that
// steps on command, so their steps interleave round by round and a busy machine slows both alike.
// Tokens/s are medians of the timed steps after a warm-up.
//
// The PyTorch reference needs Debian 12's `apt-get install -y python3-torch libopenblas0-pthread`
// (without OpenBLAS, Debian's torch runs on the reference BLAS, 10-20x slower); without torch the
// bench prints gemma-ts alone. GEMMA_TS_PYTHON picks the interpreter (default /usr/bin/python3).
// PyTorch runs with OMP_WAIT_POLICY=PASSIVE (see TorchReference.start). Wall-clock figures on a
// machine shared with other work move by 10% or more from run to run; the ratio moves less.
//
// MFU = model FLOPs per step / step time / peak. Model FLOPs per token are 6 N + 12 L T (H h):
// N the weights of the matrix products (the seven projections of each layer and the tied output
// projection V x d; the embedding lookup is a gather, norms and elementwise work are not counted),
// 2 N flops a token forward and 4 N backward; and per layer the two attention products, 4 T (H h)
// forward and twice that backward, over all T positions (no discount for the causal mask). The
// peak is measured in this run: the best of [1024 x 1024] x [1024 x 1024] sgemms by onnxruntime
// (MLAS) and, when present, by torch (OpenBLAS) at the same thread count, sampled every round:
// what the machine's float32 matrix kernels deliver, not its nominal FMA rate.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { configToHf, type Gemma2Config, GraphBuilder, HostTensor, initParams, languageModelBatch, languageModeling, presetConfig, Random, Trainer } from "../src/index.js";
import { OnnxBackend, writeSafetensors } from "../src/node.js";

const PRESET = "gemma2-7m";
const BATCH = 8;
const SEQUENCE = 128;
const LR = 1e-4;
const WARMUP_STEPS = 2;
const ROUNDS = 4;
const STEPS_PER_ROUND = 2;
const SGEMM = 1024;
const SGEMM_REPEATS = 3;
const LOSS_TOLERANCE = 1e-4;
const PYTHON = process.env.GEMMA_TS_PYTHON ?? "/usr/bin/python3";

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Model FLOPs of one trained token at sequence length T (the formula in the header). */
function flopsPerToken(config: Gemma2Config, T: number): number {
  const d = config.hiddenSize;
  const q = config.numAttentionHeads * config.headDim;
  const kv = config.numKeyValueHeads * config.headDim;
  const perLayer = 2 * q * d + 2 * kv * d + 3 * config.intermediateSize * d;
  const matrixWeights = config.numHiddenLayers * perLayer + config.vocabSize * d;
  return 6 * matrixWeights + 12 * config.numHiddenLayers * T * q;
}

/** A square sgemm by onnxruntime at one thread count, timed on demand. */
async function ortSgemm(threads: number): Promise<{ gflops: (repeats: number) => Promise<number>; dispose: () => Promise<void> }> {
  const backend = new OnnxBackend({ intraOpThreads: threads });
  const g = new GraphBuilder();
  const product = g.input("a", "float32", [SGEMM, SGEMM]).matmul(g.input("b", "float32", [SGEMM, SGEMM]));
  const executable = await backend.compile(g.build({ product }));
  const random = new Random(7);
  const operand = () => HostTensor.float32([SGEMM, SGEMM], Array.from({ length: SGEMM * SGEMM }, () => random.normal()));
  const inputs = { a: operand(), b: operand() };
  await executable.run(inputs);
  return {
    /** The best GFLOP/s of `repeats` runs. */
    async gflops(repeats: number) {
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < repeats; i++) {
        const started = performance.now();
        await executable.run(inputs);
        best = Math.min(best, (performance.now() - started) / 1000);
      }
      return (2 * SGEMM ** 3) / best / 1e9;
    },
    async dispose() {
      await executable.dispose();
      await backend.dispose();
    },
  };
}

/** The BLAS library torch loaded, by file name; the reference BLAS makes the comparison meaningless. */
function blasName(libraries: readonly string[]): string {
  const optimised = libraries.map((path) => path.split("/").at(-1)!).find((name) => /openblas|mkl|blis/i.test(name));
  return optimised ?? `the reference BLAS (${libraries.join(", ") || "none found"}): install libopenblas0-pthread`;
}

interface TorchReady {
  torch: string;
  blas: string[];
}

/** gemma2_torch.py in a child process, answering one JSON line per command. */
class TorchReference {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    private readonly reader: Interface,
    readonly ready: TorchReady,
  ) {}

  /** Starts the reference, or says why it is unavailable. */
  static async start(folder: string, threads: number): Promise<TorchReference | { unavailable: string }> {
    const child = spawn(PYTHON, [join(import.meta.dirname, "gemma2_torch.py"), folder, String(threads), String(LR)], {
      // Passive OpenMP waits: torch's OpenMP threads otherwise spin between ops and take the cores
      // from OpenBLAS's own threads (2 threads ran ~1.9x slower than with it here).
      env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), OMP_WAIT_POLICY: "PASSIVE" },
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const failed = new Promise<{ unavailable: string }>((resolve) => {
      child.on("error", (error) => resolve({ unavailable: `cannot run ${PYTHON} (${error.message})` }));
      // "close", not "exit": by then stdout is read, so a line it printed before exiting wins the race.
      child.on("close", (code) => resolve({ unavailable: `${PYTHON} exited with code ${code}: ${stderr.trim().split("\n").at(-1) ?? ""}` }));
    });
    const reader = createInterface({ input: child.stdout });
    const lines = reader[Symbol.asyncIterator]();
    const first = await Promise.race([lines.next(), failed]);
    if ("unavailable" in first) return first;
    if (first.done) return { unavailable: `${PYTHON} printed nothing: ${stderr.trim()}` };
    const ready = JSON.parse(first.value) as TorchReady | { unavailable: string };
    if ("unavailable" in ready) {
      child.kill();
      return ready;
    }
    return new TorchReference(child, lines, reader, ready);
  }

  async request<T>(command: string): Promise<T> {
    this.child.stdin.write(`${command}\n`);
    const line = await this.lines.next();
    if (line.done) throw new Error(`the PyTorch reference stopped during '${command}'`);
    const reply = JSON.parse(line.value) as T & { error?: string };
    if (reply.error) throw new Error(`the PyTorch reference: ${reply.error}`);
    return reply;
  }

  async steps(count: number): Promise<{ losses: number[]; seconds: number[] }> {
    return this.request(`steps ${count}`);
  }

  close(): void {
    this.child.stdin.end("quit\n");
    this.reader.close();
  }
}

const config = presetConfig(PRESET);
const params = initParams(config, 1);
// Ids past the special tokens: the padding row of the embedding is zero, and a zero hidden state
// meets RMSNorm's 1 / sqrt(eps) at every layer, which blows its row's gradient up to ~1e29.
const FIRST_ID = 4;
const rows = Array.from({ length: BATCH }, (_, row) => Array.from({ length: SEQUENCE + 1 }, (_, t) => FIRST_ID + ((row * 131 + t * 17) % (config.vocabSize - FIRST_ID))));
const batch = languageModelBatch(rows);
const tokens = BATCH * SEQUENCE;
const stepFlops = flopsPerToken(config, SEQUENCE) * tokens;

const folder = await mkdtemp(join(tmpdir(), "gemma-ts-training-bench-"));
await writeSafetensors(join(folder, "model.safetensors"), params);
await writeFile(join(folder, "config.json"), JSON.stringify(configToHf(config)));
await writeFile(join(folder, "batch.json"), JSON.stringify({ rows }));

console.log(`\n${PRESET} training step (forward, next-token CE, backward, clip to norm 1, AdamW), batch ${BATCH} x ${SEQUENCE} = ${tokens} tokens`);
console.log(`  model FLOPs: 6 N + 12 L T (H h) = ${(flopsPerToken(config, SEQUENCE) / 1e6).toFixed(1)} MFLOP a token, ${(stepFlops / 1e9).toFixed(1)} GFLOP a step`);
try {
  for (const threads of [1, 2]) {
    const trainer = new Trainer({ config, backend: new OnnxBackend({ intraOpThreads: threads }), params, objective: languageModeling(), optimizer: { maxGradNorm: 1 } });
    const sgemm = await ortSgemm(threads);
    const torch = await TorchReference.start(folder, threads);
    const reference = torch instanceof TorchReference ? torch : undefined;
    if (threads === 1) console.log(reference ? `  PyTorch ${reference.ready.torch} on ${blasName(reference.ready.blas)}` : `  PyTorch reference unavailable: ${(torch as { unavailable: string }).unavailable}`);
    try {
      const ours: number[] = [];
      const theirs: number[] = [];
      const ourLosses: number[] = [];
      const theirLosses: number[] = [];
      for (let i = 0; i < WARMUP_STEPS; i++) ourLosses.push((await trainer.step([batch], LR)).loss);
      if (reference) theirLosses.push(...(await reference.steps(WARMUP_STEPS)).losses);
      // The peak is sampled every round too, so a burst of other work on the machine during one
      // sample does not set it.
      let ortPeak = 0;
      let torchPeak = 0;
      for (let round = 0; round < ROUNDS; round++) {
        ortPeak = Math.max(ortPeak, await sgemm.gflops(SGEMM_REPEATS));
        if (reference) torchPeak = Math.max(torchPeak, (await reference.request<{ gflops: number }>(`sgemm ${SGEMM_REPEATS}`)).gflops);
        for (let i = 0; i < STEPS_PER_ROUND; i++) {
          const started = performance.now();
          ourLosses.push((await trainer.step([batch], LR)).loss);
          ours.push((performance.now() - started) / 1000);
        }
        if (reference) {
          const { losses, seconds } = await reference.steps(STEPS_PER_ROUND);
          theirLosses.push(...losses);
          theirs.push(...seconds);
        }
      }
      const peak = Math.max(ortPeak, torchPeak) * 1e9;
      const label = `${threads} thread${threads > 1 ? "s" : " "}`;
      const side = (seconds: number) => `${(tokens / seconds).toFixed(0).padStart(5)} tok/s (${(seconds * 1000).toFixed(0)} ms/step, MFU ${((100 * stepFlops) / seconds / peak).toFixed(1)}%)`;
      const peakNote = `peak ${(peak / 1e9).toFixed(1)} GFLOP/s (best sgemm: onnxruntime ${ortPeak.toFixed(1)}${reference ? `, torch ${torchPeak.toFixed(1)}` : ""})`;
      if (reference) {
        // The first loss is the initial weights': both sides must compute the same model. Later
        // ones follow AdamW's updates, where rounding differences grow; they should stay close.
        const [ourFirst, theirFirst] = [ourLosses[0]!, theirLosses[0]!];
        const relative = Math.abs(ourFirst - theirFirst) / Math.abs(theirFirst);
        const verdict = relative <= LOSS_TOLERANCE ? "same model" : `MISMATCH: over ${LOSS_TOLERANCE}`;
        console.log(
          `  ${label}: loss at step 1 gemma-ts ${ourFirst.toFixed(6)}, PyTorch ${theirFirst.toFixed(6)} (relative difference ${relative.toExponential(1)}: ${verdict}); ` +
            `at step ${ourLosses.length} ${ourLosses.at(-1)!.toFixed(4)} and ${theirLosses.at(-1)!.toFixed(4)}`,
        );
        console.log(`  ${label}: gemma-ts ${side(median(ours))}, PyTorch ${side(median(theirs))}, ratio ${(median(theirs) / median(ours)).toFixed(2)}x; ${peakNote}`);
      } else {
        console.log(`  ${label}: gemma-ts ${side(median(ours))}; ${peakNote}`);
      }
    } finally {
      reference?.close();
      await trainer.dispose();
      await sgemm.dispose();
    }
  }
} finally {
  await rm(folder, { recursive: true, force: true });
}
