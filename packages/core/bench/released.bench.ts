// pnpm bench (released sizes): a folder in the layout of google/gemma-2-2b-it with random bf16
// weights (written once, then reused), loaded by gemma-ts and, converted to an f32 GGUF by gemma-ts,
// by llama.cpp. Each side runs in its own process (released-worker.ts) so peak RSS is its own;
// prints load time, peak RSS, prefill and decode tokens/s at 1 and 2 threads side by side, and the
// largest log-probability difference over a 16-token prompt.
// GEMMA_TS_RELEASED_DIR picks the folder (default: a folder in the OS temp dir);
// GEMMA_TS_RELEASED_PRESET=gemma2-9b writes and runs the 9b instead (needs ~40 GB of RAM in f32).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeReleasedFolder } from "../test/support/released-folder.js";
import { PARITY_IDS, type SideFigures } from "./released-worker.js";

const preset = (process.env.GEMMA_TS_RELEASED_PRESET ?? "gemma2-2b") as "gemma2-2b" | "gemma2-9b";
const dir = process.env.GEMMA_TS_RELEASED_DIR ?? join(tmpdir(), `gemma-ts-released-${preset}`);
const gguf = `${dir}.f32.gguf`;
const worker = (mode: string, source: string, target: string) =>
  execFileSync("npx", ["tsx", join(import.meta.dirname, "released-worker.ts"), mode, source, target], { stdio: "inherit" });

console.log(`\n${preset} in the released layout (random bf16 weights), ${dir}`);
if (!existsSync(join(dir, "model.safetensors.index.json"))) {
  const started = performance.now();
  await writeReleasedFolder(dir, preset, { seed: 1 });
  console.log(`  wrote the folder in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
if (!existsSync(gguf)) worker("convert", dir, gguf);

const ours = join(tmpdir(), "gemma-ts-released-ours.json");
const theirs = join(tmpdir(), "gemma-ts-released-llama.json");
worker("gemma", dir, ours);
worker("llama", gguf, theirs);
const a = JSON.parse(await readFile(ours, "utf8")) as SideFigures;
const b = JSON.parse(await readFile(theirs, "utf8")) as SideFigures;

const gb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
console.log(`  load:     gemma-ts ${a.loadSeconds.toFixed(1)} s (bf16 safetensors -> f32), llama.cpp ${b.loadSeconds.toFixed(1)} s (f32 GGUF, mmap)`);
console.log(`  peak RSS: gemma-ts ${gb(a.peakRssBytes)}, llama.cpp ${gb(b.peakRssBytes)}, ratio ${(a.peakRssBytes / b.peakRssBytes).toFixed(2)}x`);
for (const threads of [1, 2]) {
  for (const phase of ["prefill", "decode"] as const) {
    const ratio = a[phase][threads]! / b[phase][threads]!;
    console.log(`  ${threads} thread${threads > 1 ? "s" : " "} ${phase.padEnd(7)}: gemma-ts ${a[phase][threads]!.toFixed(2).padStart(7)} tok/s, llama.cpp ${b[phase][threads]!.toFixed(2).padStart(7)} tok/s, ratio ${ratio.toFixed(2)}x`);
  }
}
const ourRows = new Float32Array((await readFile(`${ours}.logprobs`)).buffer.slice(0));
const theirRows = new Float32Array((await readFile(`${theirs}.logprobs`)).buffer.slice(0));
const vocab = ourRows.length / PARITY_IDS.length;
let worst = 0;
let sameArgmax = 0;
for (let position = 0; position < PARITY_IDS.length; position++) {
  const x = ourRows.subarray(position * vocab, (position + 1) * vocab);
  const y = theirRows.subarray(position * vocab, (position + 1) * vocab);
  let bestX = 0;
  let bestY = 0;
  for (let i = 0; i < vocab; i++) {
    if (Number.isFinite(y[i]!)) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    if (x[i]! > x[bestX]!) bestX = i;
    if (y[i]! > y[bestY]!) bestY = i;
  }
  if (bestX === bestY) sameArgmax++;
}
console.log(`  parity (16-token prompt, f32 vs F32 GGUF): max |log p difference| ${worst.toExponential(2)}, same argmax at ${sameArgmax}/${PARITY_IDS.length} positions`);
await rm(ours, { force: true });
await rm(theirs, { force: true });
