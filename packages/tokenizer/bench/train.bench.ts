// pnpm bench: trainBpe's training time on the State of the Union corpus, the setting of
// test/trainer.test.ts (90% of the speeches as sentence lines, 8,000 tokens, Gemma's special and
// turn tokens). The test checks what is trained; how long it takes is this figure, not a test.
import { GEMMA_SPECIAL_TOKENS, trainBpe } from "../src/index.js";
import { sotuCorpus } from "./corpora.js";

const RUNS = 3;
const toLines = (text: string): string[] => text.split(/(?<=[.!?])\s+|\n+/).filter((line) => line.length > 0);
const lines = sotuCorpus()
  .filter((_, i) => i % 10 !== 9)
  .flatMap(toLines);
const megabytes = lines.reduce((total, line) => total + Buffer.byteLength(line), 0) / 1e6;
const seconds: number[] = [];
for (let run = 0; run < RUNS; run++) {
  const start = performance.now();
  await trainBpe(lines, { vocabSize: 8000, specialTokens: [...GEMMA_SPECIAL_TOKENS, "<start_of_turn>", "<end_of_turn>"] });
  seconds.push((performance.now() - start) / 1000);
}
const median = [...seconds].sort((a, b) => a - b)[RUNS >> 1]!;
console.log(`trainBpe: 8000 tokens from ${lines.length} lines (${megabytes.toFixed(1)} MB): median ${median.toFixed(2)} s over ${RUNS} runs (${(megabytes / median).toFixed(2)} MB/s)`);
