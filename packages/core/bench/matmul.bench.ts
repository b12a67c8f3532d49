// pnpm bench: matmul-bound IR graphs compiled by OnnxBackend against onnxruntime sessions of the
// same MatMuls built directly with onnx-proto, both in this run, at 1 and 2 intra-op threads. The
// ratio is what the IR, the emitter and HostTensor conversion cost (goal: >= 0.9). Shapes follow
// the table in docs/compute-path.md: decode, 512x2048x512, and a 4-matmul chain.
import onnxProto from "onnx-proto";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { GraphBuilder, HostTensor, Random } from "../src/index.js";
import { OnnxBackend } from "../src/node.js";

const { onnx } = onnxProto;
const WARMUP = 3;
const SAMPLES = 20;

/** One case: x [m, widths[0]] times weights [widths[i], widths[i + 1]] in turn. */
interface Case {
  name: string;
  m: number;
  widths: number[];
  /** Runs per timed sample, so that tiny cases are not all timer noise. */
  repeat: number;
}

const CASES: Case[] = [
  { name: "decode 1x2048 @ 2048x512", m: 1, widths: [2048, 512], repeat: 50 },
  { name: "512x2048 @ 2048x512", m: 512, widths: [2048, 512], repeat: 1 },
  { name: "chain of 4, 512x512 via 2048", m: 512, widths: [512, 2048, 512, 2048, 512], repeat: 1 },
];

function flops(c: Case): number {
  let total = 0;
  for (let i = 0; i + 1 < c.widths.length; i++) total += 2 * c.m * c.widths[i]! * c.widths[i + 1]!;
  return total;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function randomTensor(random: Random, shape: number[], scale: number): HostTensor<"float32"> {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = random.normal() * scale;
  return new HostTensor("float32", shape, data);
}

/** The same MatMuls as a hand-written ONNX model: input x, weights as initializers, output y. */
function rawModel(c: Case, weights: HostTensor<"float32">[]): Uint8Array {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const info = (name: string, dims: number[]): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const last = weights.length - 1;
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "raw",
      input: [info("x", [c.m, c.widths[0]!])],
      output: [info("y", [c.m, c.widths.at(-1)!])],
      initializer: weights.map((w, i) => ({
        name: `w${i}`,
        dataType: FLOAT,
        dims: [...w.shape],
        rawData: new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength),
      })),
      node: weights.map((_, i) => ({
        opType: "MatMul",
        input: [i === 0 ? "x" : `h${i - 1}`, `w${i}`],
        output: [i === last ? "y" : `h${i}`],
      })),
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

async function seconds(work: () => Promise<unknown>, repeat: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < repeat; i++) await work();
  return (performance.now() - start) / 1000 / repeat;
}

async function measure(c: Case, threads: number): Promise<{ ours: number; raw: number }> {
  const random = new Random(1);
  const x = randomTensor(random, [c.m, c.widths[0]!], 1);
  const weights = c.widths.slice(1).map((n, i) => randomTensor(random, [c.widths[i]!, n], 1 / Math.sqrt(c.widths[i]!)));

  const b = new GraphBuilder();
  let h = b.input("x", "float32", x.shape);
  for (const w of weights) h = h.matmul(b.constant(w));
  const backend = new OnnxBackend({ intraOpThreads: threads });
  const executable = await backend.compile(b.build({ y: h }));
  const ours = (): Promise<unknown> => executable.run({ x });

  const session = await InferenceSession.create(rawModel(c, weights), {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const feeds = { x: new Tensor("float32", x.data, [...x.shape]) };
  const raw = (): Promise<unknown> => session.run(feeds);

  for (let i = 0; i < WARMUP; i++) {
    await ours();
    await raw();
  }
  // Interleaved, so drift in clock speed or load hits both alike.
  const oursTimes: number[] = [];
  const rawTimes: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    oursTimes.push(await seconds(ours, c.repeat));
    rawTimes.push(await seconds(raw, c.repeat));
  }
  await executable.dispose();
  await session.release();
  return { ours: median(oursTimes), raw: median(rawTimes) };
}

const rows: string[][] = [["threads", "case", "gemma-ts GFLOP/s", "raw ORT GFLOP/s", "ratio", "gemma-ts us/run", "raw us/run"]];
for (const threads of [1, 2]) {
  for (const c of CASES) {
    const { ours, raw } = await measure(c, threads);
    const gflops = (s: number): string => (flops(c) / s / 1e9).toFixed(1);
    rows.push([String(threads), c.name, gflops(ours), gflops(raw), (raw / ours).toFixed(3), (ours * 1e6).toFixed(0), (raw * 1e6).toFixed(0)]);
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
for (const row of rows) console.log(row.map((cell, i) => (i === 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  "));
