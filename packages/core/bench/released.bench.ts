// pnpm bench (released sizes): a folder in the layout of google/gemma-2-2b-it with random bf16
// weights (written once, then reused), loaded by gemma-ts in f32, q8 and q4 and, converted by
// gemma-ts to F32, Q8_0 and Q4_0 GGUFs, by llama.cpp. Each side runs in its own process
// (released-worker.ts) so peak RSS is its own; prints load time, peak RSS, prefill and decode
// tokens/s at 1 and 2 threads side by side, and the largest log-probability difference over a
// 16-token prompt.
// GEMMA_TS_RELEASED_DIR picks the folder (default: a folder in the OS temp dir);
// GEMMA_TS_RELEASED_PRESET=gemma2-9b writes and runs the 9b instead: it needs ~40 GB of RAM, for the
// f32 variant and because the GGUF converter holds the float32 weights whole (on a smaller machine,
// `gemma-ts generate --model <folder> --quantize q4` runs the 9b). GEMMA_TS_RELEASED_VARIANTS picks
// among f32,q8,q4 (default: all three).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeReleasedFolder } from "../test/support/released-folder.js";
import { PARITY_IDS, type SideFigures } from "./released-worker.js";

const preset = (process.env.GEMMA_TS_RELEASED_PRESET ?? "gemma2-2b") as "gemma2-2b" | "gemma2-9b";
const dir = process.env.GEMMA_TS_RELEASED_DIR ?? join(tmpdir(), `gemma-ts-released-${preset}`);
const worker = (...args: string[]) => execFileSync("npx", ["tsx", join(import.meta.dirname, "released-worker.ts"), ...args], { stdio: "inherit" });

console.log(`\n${preset} in the released layout (random bf16 weights), ${dir}`);
if (!existsSync(join(dir, "model.safetensors.index.json"))) {
  const started = performance.now();
  await writeReleasedFolder(dir, preset, { seed: 1 });
  console.log(`  wrote the folder in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

// Each gemma-ts dtype against llama.cpp at the same bits, on a GGUF that gemma-ts writes.
const VARIANTS = [
  { label: "f32 vs F32", quantize: undefined, gguf: "f32" },
  { label: "q8 vs Q8_0", quantize: "q8", gguf: "q8_0" },
  { label: "q4 vs Q4_0", quantize: "q4", gguf: "q4_0" },
] as const;
const wanted = (process.env.GEMMA_TS_RELEASED_VARIANTS ?? "f32,q8,q4").split(",");
const gb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
for (const variant of VARIANTS.filter((v) => wanted.includes(v.quantize ?? "f32"))) {
  const gguf = `${dir}.${variant.gguf}.gguf`;
  if (!existsSync(gguf)) worker("convert", dir, gguf, variant.gguf);
  const ours = join(tmpdir(), "gemma-ts-released-ours.json");
  const theirs = join(tmpdir(), "gemma-ts-released-llama.json");
  worker("gemma", dir, ours, ...(variant.quantize ? [variant.quantize] : []));
  worker("llama", gguf, theirs);
  const a = JSON.parse(await readFile(ours, "utf8")) as SideFigures;
  const b = JSON.parse(await readFile(theirs, "utf8")) as SideFigures;
  console.log(`  ${variant.label}`);
  console.log(`    load:     gemma-ts ${a.loadSeconds.toFixed(1)} s (bf16 safetensors${variant.quantize ? `, quantized while read` : " -> f32"}), llama.cpp ${b.loadSeconds.toFixed(1)} s (GGUF, mmap)`);
  console.log(`    peak RSS: gemma-ts ${gb(a.peakRssBytes)}, llama.cpp ${gb(b.peakRssBytes)}, ratio ${(a.peakRssBytes / b.peakRssBytes).toFixed(2)}x`);
  for (const threads of [1, 2]) {
    for (const phase of ["prefill", "decode"] as const) {
      const ratio = a[phase][threads]! / b[phase][threads]!;
      console.log(`    ${threads} thread${threads > 1 ? "s" : " "} ${phase.padEnd(7)}: gemma-ts ${a[phase][threads]!.toFixed(2).padStart(7)} tok/s, llama.cpp ${b[phase][threads]!.toFixed(2).padStart(7)} tok/s, ratio ${ratio.toFixed(2)}x`);
    }
  }
  const { worst, sameArgmax } = compareLogProbs(new Float32Array((await readFile(`${ours}.logprobs`)).buffer.slice(0)), new Float32Array((await readFile(`${theirs}.logprobs`)).buffer.slice(0)));
  console.log(`    parity (16-token prompt): max |log p difference| ${worst.toExponential(2)}, same argmax at ${sameArgmax}/${PARITY_IDS.length} positions`);
  for (const file of [ours, theirs, `${ours}.logprobs`, `${theirs}.logprobs`]) await rm(file, { force: true });
}

function compareLogProbs(ourRows: Float32Array, theirRows: Float32Array): { worst: number; sameArgmax: number } {
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
  return { worst, sameArgmax };
}
